"""Privacy (docs/operations.md, privacy, issue 8 §5): no document data in logs or exception texts, nothing kept.

Every virtual document and every failure mode we can produce -- each hostile chip
of tests.support.hostile_chips, each hostile phone of tests.support.hostile_phones, a failing
Result Server -- runs through the real WebSocket session in memory with every log
event captured (twisted.logger at all levels, stdlib logging at DEBUG).  The
captured text and every exception text must not contain the holder's document
number, names, dates of birth or expiry, CAN, an MRZ line, session or access key
material, or image bytes.  Afterwards the session's report, relay and protocol are
garbage (weak references die), and nothing was written to the working or temp dir.
"""
from __future__ import annotations

import base64
import gc
import logging
import os
import tempfile
import weakref
from typing import Any

import pytest
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from docval.emrtd.bac import derive_bac_keys
from docval.emrtd.errors import EmrtdError
from docval.errors import ResultPostFailed
from docval.reader import ReadParams, read_document
from docval.sim import datagroups, profiles
from docval.sim.direct import read_sync
from docval.sim.phone import PhoneOptions, access_key_json
from tests.support import hostile_chips
from tests.support.hostile_phones import HostilePhoneFactory, phone_behaviours
from tests.ws.harness import FakePoster, Harness, make_config

H = profiles.HOLDER


def secrets() -> dict[str, str]:
    """Strings that must never appear: holder data, keys, image bytes (text and hex forms)."""
    out = {
        "passport number": profiles.PASSPORT_NUMBER,
        "id card number": profiles.ID_CARD_NUMBER,
        "primary name": H["primary_identifier"],
        "given names": "HAPPY<JOY",
        "date of birth": H["date_of_birth"],
        "date of expiry": profiles.DATE_OF_EXPIRY,
        "full date of birth": "19850312",
        "CAN": profiles.CAN,
        "personal number": "UTO-55-0312-9",
        "place of birth": "PORT UTOPIA",
        "MRZ line": profiles._passport_mrz()[44:],
        "TD1 MRZ line": profiles._id_card_mrz()[:30],
    }
    key = profiles._mrz_key()
    for i, k in enumerate(derive_bac_keys(key)):
        out[f"BAC key {i}"] = k.hex()
    face = profiles._face()
    out["face bytes (hex)"] = face[100:124].hex()
    out["face bytes (b64)"] = base64.b64encode(face[99:147]).decode()
    return out


SESSION_KEYS: list[str] = []      # filled by the session_keys fixture while sessions run


def find_leaks(texts: list[str]) -> list[str]:
    leaks = []
    blob = "\n".join(texts)
    lower = blob.lower()
    candidates = dict(secrets())
    candidates.update({f"session key {i}": k for i, k in enumerate(SESSION_KEYS)})
    for what, value in candidates.items():
        if value in blob or value.lower() in lower:
            at = lower.find(value.lower())
            leaks.append(f"{what}: ...{blob[max(0, at - 80): at + 80]!r}...")
    return leaks


@pytest.fixture
def captured():
    """All twisted.logger events (formatted, with tracebacks) and stdlib logging at DEBUG."""
    events: list[dict] = []
    records: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))
    handler = Handler(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    globalLogPublisher.addObserver(events.append)

    def texts() -> list[str]:
        out = list(records)
        for e in events:
            out.append(formatEvent(e))
            out.append(repr({k: v for k, v in e.items() if k != "log_logger"}))
            failure = e.get("log_failure")
            if isinstance(failure, Failure):
                out.append(failure.getTraceback())
        return out
    yield texts
    globalLogPublisher.removeObserver(events.append)
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture(autouse=True)
def session_keys(monkeypatch):
    """Every Secure Messaging key pair made during the test (BAC, PACE, CA), as hex."""
    from docval.emrtd import sm
    original = sm.SecureMessaging.__init__

    def init(self, spec, k_enc, k_mac, ssc=0):
        SESSION_KEYS.extend([bytes(k_enc).hex(), bytes(k_mac).hex()])
        original(self, spec, k_enc, k_mac, ssc)
    monkeypatch.setattr(sm.SecureMessaging, "__init__", init)
    SESSION_KEYS.clear()
    yield SESSION_KEYS
    SESSION_KEYS.clear()


@pytest.fixture
def no_disk(tmp_path, monkeypatch):
    """Sessions run with a private cwd and temp dir, which must stay empty."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield
    assert os.listdir(work) == [] and os.listdir(temp) == [], "a session wrote to disk"


class Tracker:
    """read_document wrapped to keep weak references to what a session builds."""

    def __init__(self, trust: Any):
        self.trust = trust
        self.refs: list[weakref.ref] = []

    async def read(self, transport: Any, params: ReadParams, progress: Any) -> Any:
        self.refs.append(weakref.ref(transport))
        self.refs.append(weakref.ref(params))
        self.refs.append(weakref.ref(params.access_key))
        report = await read_document(transport, params, progress)
        self.refs.append(weakref.ref(report))
        return report


def harness(tracker: Tracker, poster: Any = None) -> Harness:
    h = Harness(config=make_config(start_message=10.0, apdu_response=5.0, max_session=30.0),
                read_document=tracker.read, poster=poster or FakePoster(outcome=lambda: None))
    h.factory.set_trust(lambda: tracker.trust)
    return h


# What a closed session must not hold on to (docs/operations.md, privacy): the access key and anything the chip said.
FORBIDDEN_AFTER_CLOSE = {"StartMessage", "MrzKey", "CanKey", "ReadParams", "Report", "ApduRelay",
                         "ClientConfig", "MRZ"}


def wire(h: Harness, client_factory: Any) -> Any:
    """Harness._wire without its bounded first flush: a drip-feeding chip needs > 1000 pumps."""
    from twisted.internet.address import IPv4Address
    from twisted.test import iosim

    from tests.ws.harness import Conn
    addr, peer = IPv4Address("TCP", "127.0.0.1", 8080), IPv4Address("TCP", "127.0.0.1", 40000)
    server, client = h.factory.buildProtocol(peer), client_factory.buildProtocol(addr)
    st = iosim.FakeTransport(server, isServer=True, hostAddress=addr, peerAddress=peer)
    ct = iosim.FakeTransport(client, isServer=False, hostAddress=peer, peerAddress=addr)
    return Conn(server, client, iosim.connect(server, st, client, ct, greet=False), client_factory)


def phone(h: Harness, chip: Any, options: PhoneOptions) -> Any:
    from docval.sim.phone import PhoneFactory
    path = "/ws1/validate"
    return wire(h, PhoneFactory("ws://127.0.0.1:8080" + path, chip, options, reactor=h.clock, clock=h.clock))


def pump(conn: Any) -> None:
    while conn.pump.pump():
        pass


def run_session(h: Harness, conn: Any, tracker: Tracker, seconds: float = 60.0) -> None:
    elapsed = 0.0
    pump(conn)
    while elapsed < seconds:
        h.clock.advance(0.5)
        elapsed += 0.5
        pump(conn)
    # The protocol object itself may outlive the connection (twisted.logger keeps the
    # events of un-begun logging, with their log_source); it must hold nothing then.
    server = conn.server
    assert server.phase == "closed"
    held = {type(v).__name__ for v in vars(server).values()}
    assert not held & FORBIDDEN_AFTER_CLOSE, held & FORBIDDEN_AFTER_CLOSE
    conn.pump = conn.server = conn.client = None
    h.assert_clean()


def assert_released(tracker: Tracker) -> None:
    gc.collect()
    alive = [r() for r in tracker.refs if r() is not None]
    assert not alive, f"session state still referenced after close: {[type(a).__name__ for a in alive]}"


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
@pytest.mark.parametrize("client", ["post", "return"])
def test_every_document_leaves_no_trace(name, client, captured, no_disk, demo_trust, session_keys):
    prof = profiles.get_profile(name)
    tracker = Tracker(demo_trust)
    h = harness(tracker)
    opts = PhoneOptions(access_key=access_key_json(prof.access_key), return_result=client == "return",
                        client_id="client-with-result-server" if client == "post" else "YOUR CLIENT ID")
    conn = phone(h, prof.chip(), opts)
    run_session(h, conn, tracker)
    assert h.metrics.finished == [("success", None)]
    texts = captured()
    assert any("ended: outcome=success" in t for t in texts)      # the capture works
    assert session_keys                                             # and so does the key capture
    assert find_leaks(texts) == []
    del conn
    assert_released(tracker)


@pytest.mark.parametrize("name", sorted(hostile_chips.BEHAVIOURS))
def test_every_hostile_chip_leaves_no_trace(name, captured, no_disk, demo_trust):
    tracker = Tracker(demo_trust)
    h = harness(tracker)
    key = hostile_chips.access_key_for(name)
    conn = phone(h, hostile_chips.hostile_chip(name), PhoneOptions(access_key=access_key_json(key), return_result=True))
    run_session(h, conn, tracker)
    assert len(h.metrics.finished) == 1
    texts = captured()
    # the same failure as an exception text, straight from the reader
    try:
        read_sync(hostile_chips.hostile_chip(name), ReadParams(access_key=key, extended_length=True))
    except EmrtdError as exc:
        texts += [str(exc), repr(exc), str(exc.__context__ or ""), str(exc.__cause__ or "")]
    assert find_leaks(texts) == []
    del conn
    assert_released(tracker)


@pytest.mark.parametrize("name", sorted(phone_behaviours({"can": profiles.CAN})))
def test_every_hostile_phone_leaves_no_trace(name, captured, no_disk, demo_trust):
    prof = profiles.get_profile("td1-idcard")       # CAN access: the CAN is in every start message
    behaviour = phone_behaviours(access_key_json(prof.access_key), apdu_timeout=5.0)[name]
    tracker = Tracker(demo_trust)
    h = harness(tracker)
    factory = HostilePhoneFactory(behaviour, host="127.0.0.1", path="/ws1/validate?return_result=true",
                                  clock=h.clock, chip=prof.chip())
    conn = wire(h, factory)
    run_session(h, conn, tracker, seconds=60.0)
    if behaviour.expect is not None:
        assert (factory.record.close_code, factory.record.close_reason)[0] == behaviour.expect[0]
    assert find_leaks(captured()) == []
    del conn
    assert_released(tracker)


def test_failed_result_post_leaves_no_trace(captured, no_disk, demo_trust):
    prof = profiles.get_profile("pace-ecdh-gm-aes128")

    def refuse():
        raise ResultPostFailed("result server answered 500")
    tracker = Tracker(demo_trust)
    h = harness(tracker, FakePoster(outcome=refuse))
    conn = phone(h, prof.chip(), PhoneOptions(access_key=access_key_json(prof.access_key),
                                              client_id="client-with-result-server"))
    run_session(h, conn, tracker)
    assert h.metrics.finished == [("failure", "POST_TO_RESULT_SERVER_FAILED")]
    assert find_leaks(captured()) == []
    del conn
    assert_released(tracker)


def test_the_leak_detector_finds_leaks():
    """The check above is only worth something if it would fail on a real leak."""
    face = profiles._face()
    assert find_leaks([f"reading {profiles.PASSPORT_NUMBER}"])
    assert find_leaks([f"mrz {profiles._passport_mrz()}"])
    assert find_leaks([f"data {face[90:200].hex()}"])
    assert find_leaks([f"can={profiles.CAN}"])
    SESSION_KEYS.append("00112233445566778899aabbccddeeff")
    assert find_leaks(["k=00112233445566778899AABBCCDDEEFF"])
    assert find_leaks([datagroups.make_td3_mrz(issuing_state="UTO", primary_identifier="TRAVELLER",
                                               secondary_identifier="X", document_number="A1", nationality="UTO",
                                               date_of_birth="010101", gender="F", date_of_expiry="300101")])
    assert find_leaks(["session 1a2b ended: outcome=success"]) == []
