#!/usr/bin/env bash
# Static checks, configured in pyproject.toml: ruff, the import-linter contracts (layer
# boundaries) and mypy, with the latest PyPI releases in the suite's virtualenv (.venv, from
# scripts/_venv.sh, so mypy sees the latest Twisted/cryptography/treq annotations).
#
# The contracts run a second time under Debian's /usr/bin/python3 (import-linter installed
# with `pip --target` into a scratch directory; Debian 12 does not package it). They parse
# the source and never import the dependencies, so the verdict cannot differ between the two
# stacks; the second run only shows the tool itself works on Debian's interpreter.
# mypy runs once: Debian 12 has mypy 1.0 but no mypy-zope, without which every Twisted
# interface is a type error, and its verdict on our code is about the code, not the stack.
# Each check fails the script.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1

# mypy with pyproject's settings over the whole package and the twistd plugin:
# docval.emrtd.*, docval.ws.* and docval.v2.* (and docval.strictjson) get the --strict
# flags set there, everything else the default checks, so a new module is checked from
# its first commit.
MYPY_CHECKED=(docval twisted/plugins/docval_plugin.py)

step() { printf '\n--- lint: %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "install ruff, import-linter, mypy, mypy-zope (latest) into .venv"
. scripts/_venv.sh
"$VENV/bin/pip" install -q -U ruff import-linter mypy mypy-zope
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("versions:", ", ".join(f"{p} {version(p)}" for p in ("ruff", "import-linter", "mypy", "mypy-zope")))
PY

step "ruff check (the whole tree)"
"$VENV/bin/ruff" check --no-cache .

step "import contracts (lint-imports, latest PyPI stack)"
"$VENV/bin/lint-imports" --no-cache

step "import contracts under Debian's /usr/bin/python3"
TARGET=$(mktemp -d /tmp/docval-importlinter.XXXXXX)
trap 'rm -rf "$TARGET"' EXIT
/usr/bin/python3 -m pip install -q --disable-pip-version-check --target "$TARGET" import-linter
PYTHONPATH=$TARGET /usr/bin/python3 "$TARGET/bin/lint-imports" --no-cache

step "mypy (${#MYPY_CHECKED[@]} paths)"
"$VENV/bin/mypy" --no-incremental "${MYPY_CHECKED[@]}"

step "ok"
