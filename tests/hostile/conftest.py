"""A real DocVal server process shared by the socket-level hostile tests (W and P rows)."""
from __future__ import annotations

import time

import pytest

from tests.e2e import conftest as _e2e
from tests.support.processes import ServerProcess

TIMEOUTS = {"start_message": 1.0, "apdu_response": 1.0, "max_session": 4.0,
            "open_handshake": 1.0, "close_handshake": 1.0}
MAX_CONNECTIONS = 24


@pytest.fixture(scope="package")
def server():
    proc = ServerProcess(timeouts=TIMEOUTS, max_connections=MAX_CONNECTIONS)
    yield proc
    # Whatever the hostile clients did, nothing is left behind: no session, post or timer.
    state = settle(proc, timeout=TIMEOUTS["close_handshake"] + 5)
    log = proc.log()
    proc.stop()
    assert (state["sessions"], state["posts"], state["session_calls"]) == (0, 0, 0), state
    # docs/reliability.md: a defined outcome, "never a traceback".
    assert "Traceback" not in log, log[-4000:]


def settle(server, timeout: float = 5.0) -> dict:
    """Wait until the server holds no session, post or session timer; return its state."""
    deadline = time.monotonic() + timeout
    while True:
        state = server.state()
        if (state["sessions"], state["posts"], state["session_calls"]) == (0, 0, 0) \
                or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


# The API v2 rows (test_v2_phones.py) run on the end-to-end stack: a server made from a TOML
# file with a Result Server.  Its fixtures, shared rather than copied.
reactor = _e2e.reactor
make_stack = _e2e.make_stack
captured_log = _e2e.captured_log
