#!/usr/bin/env bash
# README's quick start must stay true: `scripts/demo` starts DocVal on its built-in defaults
# and validates a virtual passport through it end to end. Run here on a free port and in a
# scratch directory (DOCVAL_DEMO_PORT / DOCVAL_DEMO_DIR), so a demo someone left running on
# 8080 is neither disturbed nor mistaken for this one; the server started is stopped after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
RUN=$(mktemp -d /tmp/docval-quickstart.XXXXXX)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup() {
    local rc=$?
    if [ -f "$RUN/docval-demo.pid" ]; then
        pid=$(cat "$RUN/docval-demo.pid")
        kill "$pid" 2>/dev/null || true
        timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$RUN/docval-demo.log" ]; then
        echo "--- demo server log"; tail -n 30 "$RUN/docval-demo.log" || true
    fi
    rm -rf "$RUN"
    exit "$rc"
}
trap cleanup EXIT
fail() { printf 'quickstart.sh: FAILED: %s\n' "$*" >&2; exit 1; }

DOCVAL_DEMO_PORT=$PORT DOCVAL_DEMO_DIR=$RUN timeout 300 "$ROOT/scripts/demo" | tee "$RUN/out" \
    || fail "scripts/demo did not validate the virtual passport"
grep -q "on ws://127.0.0.1:$PORT/ws1/validate" "$RUN/out" || fail "the demo server is not on port $PORT"
grep -q '^status  *DONE' "$RUN/out" || fail "no DONE status"
grep -q '^closed  *1000' "$RUN/out" || fail "no close 1000"
grep -Eq '^ *passive authentication +true' "$RUN/out" || fail "Passive Authentication did not succeed"
kill -0 "$(cat "$RUN/docval-demo.pid")" || fail "the server did not keep running for real phones"
grep -q 'session .* ended: outcome=success' "$RUN/docval-demo.log" || fail "no session line in the demo log"
echo "quickstart: scripts/demo validated a virtual passport"
