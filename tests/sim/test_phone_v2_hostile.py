"""Each hostile v2 phone (tests/support/hostile_phones_v2.py) really commits its fault:
run against the scripted v2 server, which notes every protocol violation and keeps going,
so the fault is seen on the wire, alone.  (What DocVal answers is tested with the server.)"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import pytest_twisted

from docval.sim import profiles
from tests.sim.test_phone_v2 import Server
from tests.support.hostile_phones_v2 import (MONITORING_SPAM, OVERSIZED_FILE_BYTES, phone_behaviours_v2,
                                             run_hostile_phone_v2)


def _kinds(s: Any) -> list[str]:
    return [k if k != "FILE" else f"FILE {v}" for k, v in s.seen]


CHECKS: dict[str, Callable[[Any, list[str], Any], bool]] = {
    "oversized-file": lambda s, v, r: len(s.files["dg3"]) > OVERSIZED_FILE_BYTES and v == [],
    "duplicate-file": lambda s, v, r: any("sent twice" in x for x in v),
    "unknown-file-name": lambda s, v, r: "file name 'cardAccess'" in v,
    "handover-before-dg14": lambda s, v, r: "CA_HANDOVER before dg14 or in the wrong state" in v,
    "apdu-without-command": lambda s, v, r: "APDU frame without an outstanding command" in v,
    "lying-ssc": lambda s, v, r: v == ["relay failed: SecureMessagingError"] or v == ["relay failed: StatusError"],
    "skips-handover": lambda s, v, r: v == [] and "CA_HANDOVER" not in _kinds(s) and "dg14" in s.files
    and r.close_code == 1000,
    "finish-without-sod": lambda s, v, r: v == ["FINISH without sod"],
    "disconnect-before-finish": lambda s, v, r: v == [] and "FINISH" not in _kinds(s) and "sod" in s.files,
    "disconnect-after-finish": lambda s, v, r: v == [] and _kinds(s)[-1] == "FINISH",
    "monitoring-spam": lambda s, v, r: v == [] and _kinds(s).count("MONITORING") == MONITORING_SPAM
    and r.close_code == 1000,
    "binary-before-start": lambda s, v, r: "binary message of unknown type" in v,
    "second-start": lambda s, v, r: "second START" in v,
}


def test_every_behaviour_is_checked_here():
    assert set(CHECKS) == set(phone_behaviours_v2())


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_the_phone_commits_its_fault(name: str) -> None:
    from twisted.internet import reactor, task
    server = Server(reactor)
    behaviour = phone_behaviours_v2()[name]
    try:
        d = run_hostile_phone_v2(reactor, server.url, behaviour, profile=profiles.get_profile("pace-ecdh-gm-aes128"))
        if name in ("binary-before-start",):
            # The scripted server does not close on it; the phone waits for an ACCEPT that never comes.
            await task.deferLater(reactor, 0.5, lambda: None)
            server.session().sendClose(1000)
        record = await d
    finally:
        await server.stop()
    s = server.session()
    assert CHECKS[name](s, s.violations, record), (s.violations, _kinds(s)[:8], record)
