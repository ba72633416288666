# Sourced by scripts/test and scripts/demo: a virtualenv with DocVal and the latest releases.
VENV=${DOCVAL_VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$VENV/.docval-installed" ] || [ setup.py -nt "$VENV/.docval-installed" ]; then
    "$VENV/bin/pip" install -q -U pip
    # compat mode puts the project root on sys.path, where Twisted finds twisted/plugins/.
    "$VENV/bin/pip" install -q -U -e '.[test]' --config-settings editable_mode=compat
    touch "$VENV/.docval-installed"
fi
