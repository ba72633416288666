"""The v2 virtual phone against a small scripted v2 server that checks every message
against the protocol (docs/websocket-api-v2.md §2-§5): the START fields, the FILE and APDU frames,
dg14 before CA_HANDOVER, the handover fields and its signed SSC, one relayed command
at a time, no dg1 from the phone once the server sent one, sod last, and the FINISH
forms of Android and iOS.  The server runs Chip Authentication itself through the
relay (our ICAO code), so a session that ends with a verifying AA signature proves
that the phone continued under the handed-back keys."""
from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import defer

from docval.emrtd import files
from docval.emrtd.flow import Link, run_async
from docval.sim import profiles
from docval.sim.phone_v2 import PhoneV2Options, PhoneV2Protocol, expected_v2, run_phone_v2

NAME_OK = {"sod"} | {f"dg{n}" for n in range(1, 17)}


class ScriptedServer(WebSocketServerProtocol):
    """A v2 server reduced to what checks the phone; ``mode`` picks its answers."""

    def onConnect(self, request: Any) -> None:
        self.query = request.params

    def onOpen(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.violations: list[str] = self.factory.violations
        self.pending: defer.Deferred | None = None
        self.challenge = os.urandom(8)
        self.phase = "WAIT_START"
        self.factory.sessions.append(self)

    def bad(self, what: str) -> None:
        self.violations.append(what)

    def send_json(self, msg: dict[str, Any]) -> None:
        self.sendMessage(json.dumps(msg).encode(), isBinary=False)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            kind = payload[:1]
            if kind == b"\x01":
                n = payload[1]
                name = payload[2:2 + n].decode()
                self.seen.append(("FILE", name))
                if name not in NAME_OK:
                    self.bad(f"file name {name!r}")
                if name in self.files:
                    self.bad(f"file {name} sent twice")
                if self.phase == "CA_RELAY":
                    self.bad(f"file {name} during the relay")
                self.files[name] = payload[2 + n:]
            elif kind == b"\x02":
                self.seen.append(("APDU", len(payload)))
                if self.pending is None:
                    self.bad("APDU frame without an outstanding command")
                    return
                d, self.pending = self.pending, None
                d.callback(payload[1:])
            else:
                self.bad("binary message of unknown type")
            return
        msg = json.loads(payload)
        self.seen.append((msg.get("type"), msg))
        getattr(self, "on_" + str(msg.get("type")).lower(), self.on_unknown)(msg)

    def on_unknown(self, msg: dict[str, Any]) -> None:
        self.bad(f"message type {msg.get('type')!r}")

    def on_monitoring(self, msg: dict[str, Any]) -> None:
        if set(msg) != {"type", "message"} or not isinstance(msg["message"], str):
            self.bad("MONITORING form")

    def on_start(self, msg: dict[str, Any]) -> None:
        want = {"type": str, "validationId": str, "clientId": str, "platform": str,
                "nfcAdapterSupportsExtendedLength": bool, "enableDiagnostics": bool}
        if set(msg) != set(want) or any(not isinstance(msg[k], t) for k, t in want.items()):
            self.bad(f"START fields {sorted(msg)}")
        if self.phase != "WAIT_START":
            self.bad("second START")
        self.start = msg
        self.phase = "READING"
        if self.factory.mode == "status":
            self.send_json({"status": "ACCESS_CONTROL"})     # a v1 message the phones refuse
            return
        self.send_json({"type": "ACCEPT",
                        "activeAuthenticationChallenge": base64.b64encode(self.challenge).decode()})

    def on_ca_handover(self, msg: dict[str, Any]) -> None:
        if self.phase != "READING" or "dg14" not in self.files:
            self.bad("CA_HANDOVER before dg14 or in the wrong state")
        if "sod" in self.files:
            self.bad("sod before the handover")
        info = msg.get("secureMessagingInfo", {})
        if set(msg) != {"type", "maxTransceiveLengthForSecureMessaging", "maxBlockSize", "secureMessagingInfo"} \
                or set(info) != {"algorithm", "encKey", "macKey", "ssc"}:
            self.bad(f"CA_HANDOVER fields {sorted(msg)} {sorted(info)}")
        if msg["maxBlockSize"] != 223 or msg["maxTransceiveLengthForSecureMessaging"] not in (256, 65536):
            self.bad("CA_HANDOVER limits")
        if not isinstance(info.get("ssc"), int) or not -(1 << 63) <= info["ssc"] < (1 << 63):
            self.bad("ssc is not a signed 64-bit number")
        if info.get("algorithm") not in ("AES", "DESede"):
            self.bad("algorithm")
        for k in ("encKey", "macKey"):
            raw = base64.b64decode(info[k], validate=True)
            if base64.b64encode(raw).decode() != info[k]:
                self.bad("keys not in standard padded base64")
            if info["algorithm"] == "DESede" and (len(raw) != 24 or raw[16:] != raw[:8]):
                self.bad("DESede keys must be 24 bytes K1|K2|K1")
        self.handover = msg
        self.phase = "CA_RELAY"
        defer.ensureDeferred(self.relay(msg)).addErrback(self.relay_failed)

    def relay_failed(self, failure: Any) -> None:
        self.bad(f"relay failed: {type(failure.value).__name__}")
        self.sendClose(1000)

    async def transmit(self, raws: list[bytes]) -> list[bytes]:
        out = []
        for raw in raws:
            self.pending = defer.Deferred()
            self.sendMessage(b"\x02" + raw, isBinary=True)
            out.append(await self.pending)
        return out

    async def relay(self, msg: dict[str, Any]) -> None:
        from docval.emrtd.ca import chip_authentication, choose_ca
        from docval.emrtd.handover import SMInfo, secure_messaging, sm_info
        from docval.emrtd.securityinfo import parse_dg14

        extended = msg["maxTransceiveLengthForSecureMessaging"] > 256
        link = Link(extended=extended, max_command_bytes=msg["maxTransceiveLengthForSecureMessaging"])
        link.start(secure_messaging(SMInfo.from_wire(msg["secureMessagingInfo"])))
        check = "UNAVAILABLE"
        if self.factory.mode != "unavailable":
            ca_info, ca_key = choose_ca(parse_dg14(self.files["dg14"]))
            result = await run_async(chip_authentication(ca_info, ca_key, extended_length=extended,
                                                         max_command_data=link.max_command_data()),
                                     link, self.transmit)
            link.start(result.sm)
            check = "SUCCESS"
        limits = files.ReadLimits(max_le=min(223, link.sm.max_plain_le(msg["maxTransceiveLengthForSecureMessaging"])))
        dg1 = await run_async(files.read_file(files.dg(1), limits), link, self.transmit)
        self.dg1 = dg1
        if self.factory.mode != "no-dg1":
            self.sendMessage(b"\x01\x03dg1" + dg1, isBinary=True)
        self.phase = "READING_AFTER_CA"
        self.send_json({"type": "CA_HANDBACK", "checkResult": check,
                        "secureMessagingInfo": sm_info(link.sm).to_wire(),
                        "dg1Data": base64.b64encode(dg1).decode()})

    def on_finish(self, msg: dict[str, Any]) -> None:
        self.finish = msg
        if "sod" not in self.files:
            self.bad("FINISH without sod")
        elif self.seen[-2] != ("FILE", "sod"):
            self.bad("sod is not the last file before FINISH")
        if not isinstance(msg.get("sendResult"), bool):
            self.bad("sendResult")
        self.phase = "FINISHED"
        if msg["sendResult"]:
            self.send_json({"type": "RESULT", "passport": {"chipAuthenticationResult": "SUCCESS"}})
        self.send_json({"type": "CLOSE", "code": 1000, "reason": ""})
        self.sendClose(1000)

    def aa_verifies(self) -> bool:
        from docval.emrtd.aa import parse_dg15, verify_response
        from docval.emrtd.securityinfo import parse_dg14
        sig = self.finish.get("activeAuthenticationSignature")
        if not sig:
            return False
        infos = parse_dg14(self.files["dg14"]) if "dg14" in self.files else None
        aa_info = infos.aa_infos[0] if infos is not None and infos.aa_infos else None
        return verify_response(parse_dg15(self.files["dg15"]), aa_info, self.challenge,
                               base64.b64decode(sig)).success


class Server:
    def __init__(self, reactor: Any, mode: str = "ca"):
        self.factory = WebSocketServerFactory()
        self.factory.protocol = ScriptedServer
        self.factory.mode = mode
        self.factory.sessions = []
        self.factory.violations = []
        self.factory.setProtocolOptions(perMessageCompressionAccept=lambda offers: None)
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.url = f"ws://127.0.0.1:{self.port.getHost().port}/ws2/validate"
        self.reactor = reactor

    def session(self) -> ScriptedServer:
        return self.factory.sessions[-1]

    async def phone(self, profile_name: str, chip: Any = None, **kw: Any):
        profile = profiles.get_profile(profile_name)
        opts = PhoneV2Options(access_key=profile.access_key, **kw)
        record = await run_phone_v2(self.url, chip or profile.chip(), opts, reactor=self.reactor)
        return record

    async def stop(self) -> None:
        await self.port.stopListening()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("profile_name,platform,extended", [
    ("pace-ecdh-gm-aes128", "android", False),
    ("pace-ecdh-gm-aes128", "iOS", True),
    ("bac-3des", "android", True),
    ("pace-dh-gm-3des", "iOS", True),
])
async def test_ca_documents_hand_over_relay_and_finish(profile_name: str, platform: str, extended: bool) -> None:
    from twisted.internet import reactor
    server = Server(reactor)
    try:
        record = await server.phone(profile_name, platform=platform, extended_length=extended)
    finally:
        await server.stop()
    s = server.session()
    assert server.factory.violations == []
    assert record.close_code == 1000 and record.phone_close is None, record
    assert record.check_result == "SUCCESS" and record.result == {"chipAuthenticationResult": "SUCCESS"}
    # dg14 then the handover, the relay, the server's dg1 before the handback, then the rest, sod last.
    kinds = [k if k != "FILE" else f"FILE {v}" for k, v in s.seen]
    assert kinds[:3] == ["START", "FILE dg14", "CA_HANDOVER"]
    assert kinds[-2:] == ["FILE sod", "FINISH"]
    assert "FILE dg1" not in kinds                       # never re-sent after the server's dg1
    assert record.files_received == ["dg1"]
    sent = set(s.files)
    assert sent == {"sod", "dg14", "dg15"} | {f"dg{n}" for n in (2, 7, 11, 12) if f"dg{n}" in sent}
    assert s.start["platform"] == platform
    assert s.start["nfcAdapterSupportsExtendedLength"] is (True if platform == "iOS" else extended)
    assert s.handover["maxTransceiveLengthForSecureMessaging"] == (65536 if platform == "iOS" or extended else 256)
    assert s.aa_verifies(), "AA under the handed-back keys with the ACCEPT challenge"
    assert s.finish["sendResult"] is True
    # Android asks for the result in the URL too; iOS leaves the URL alone.
    assert ("return_result" in s.query) is (platform == "android")
    # START/ACCEPT, one per relayed APDU, the handback, FINISH/RESULT.
    assert record.round_trips == record.apdus + 3


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("platform", ["android", "iOS"])
async def test_finish_without_aa_signature_android_omits_ios_sends_null(platform: str) -> None:
    from twisted.internet import reactor
    server = Server(reactor)
    try:
        record = await server.phone("pace-ecdh-gm-aes128", platform=platform, skip_aa_after_ca=True)
    finally:
        await server.stop()
    finish = server.session().finish
    assert server.factory.violations == [] and record.close_code == 1000 and record.phone_close is None, record
    if platform == "iOS":
        assert "activeAuthenticationSignature" in finish and finish["activeAuthenticationSignature"] is None
    else:
        assert "activeAuthenticationSignature" not in finish
    assert "dg15" in server.session().files          # read and sent, only not used for AA


@pytest_twisted.ensureDeferred
async def test_with_network_delay_the_result_arrives_before_the_close() -> None:
    """The close frame is delayed like every message: RESULT and CLOSE are not lost."""
    from twisted.internet import reactor
    server = Server(reactor)
    try:
        record = await server.phone("pace-ecdh-gm-aes128", delay=0.03, chip_time=0.001)
    finally:
        await server.stop()
    assert record.result == {"chipAuthenticationResult": "SUCCESS"}
    assert record.close_message == {"type": "CLOSE", "code": 1000, "reason": ""}
    # Six waits for the server at 60 ms each, at least.
    assert record.seconds_to_result > 6 * 0.06


@pytest_twisted.ensureDeferred
async def test_no_ca_document_sends_everything_without_handover() -> None:
    from twisted.internet import reactor
    server = Server(reactor)
    try:
        record = await server.phone("pace-ecdh-cam-aes128")
    finally:
        await server.stop()
    s = server.session()
    assert server.factory.violations == [] and record.close_code == 1000 and record.phone_close is None, record
    types = [k for k, _ in s.seen]
    assert "CA_HANDOVER" not in types and "APDU" not in types and not record.handed_over
    assert {"dg1", "dg2", "sod"} <= set(s.files) and s.seen[-2] == ("FILE", "sod")
    assert record.round_trips == 2                   # START/ACCEPT and FINISH/RESULT


@pytest_twisted.ensureDeferred
async def test_unavailable_handback_continues_with_the_old_keys_and_advanced_ssc() -> None:
    """The server reads DG1 under the handed-over keys: the phone must continue at that SSC."""
    from twisted.internet import reactor
    server = Server(reactor, mode="unavailable")
    try:
        record = await server.phone("bac-3des")
    finally:
        await server.stop()
    assert server.factory.violations == [] and record.close_code == 1000 and record.phone_close is None, record
    assert record.check_result == "UNAVAILABLE" and server.session().aa_verifies(), record


@pytest_twisted.ensureDeferred
async def test_ios_without_send_result_disconnects_after_finish() -> None:
    from twisted.internet import reactor
    server = Server(reactor)
    try:
        record = await server.phone("pace-ecdh-gm-aes128", platform="iOS", send_result=False)
    finally:
        await server.stop()
    assert server.session().finish["sendResult"] is False and record.result is None
    assert record.close_code == 1000 and server.factory.violations == []


@pytest_twisted.ensureDeferred
async def test_ios_takes_dg1_from_the_handback_when_no_file_came() -> None:
    from twisted.internet import reactor
    server = Server(reactor, mode="no-dg1")
    try:
        record = await server.phone("pace-ecdh-gm-aes128", platform="iOS")
    finally:
        await server.stop()
    s = server.session()
    assert server.factory.violations == [] and record.close_code == 1000 and record.phone_close is None
    assert "dg1" not in s.files and s.aa_verifies()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("mode,why", [("status", "unexpected text message"),
                                      ("no-dg1", "Did not receive DG1 before CA_HANDBACK")])
async def test_android_closes_with_protocol_error(mode: str, why: str) -> None:
    from twisted.internet import reactor
    server = Server(reactor, mode=mode)
    try:
        record = await server.phone("pace-ecdh-gm-aes128")
    finally:
        await server.stop()
    assert record.phone_close == (1008, "PROTOCOL_ERROR") and why in record.phone_error
    assert record.result is None


@pytest_twisted.ensureDeferred
async def test_wrong_access_key_closes_access_control_failed() -> None:
    from twisted.internet import reactor
    from docval.emrtd.mrz import MrzKey
    server = Server(reactor)
    profile = profiles.get_profile("bac-3des")
    opts = PhoneV2Options(access_key=MrzKey("XX0000000", "850312", "340630"))
    try:
        record = await run_phone_v2(server.url, profile.chip(), opts, reactor=reactor)
    finally:
        await server.stop()
    assert record.phone_close == (4403, "ACCESS_CONTROL_FAILED")


class _SscSpy(PhoneV2Protocol):
    """Stops after building CA_HANDOVER: only the wire SSC is of interest."""

    async def access_control(self) -> bool:
        pace = await super().access_control()
        self.factory.commands_at_bac = self.link.commands_sent
        return pace

    def handover_message(self) -> dict[str, Any]:
        msg = super().handover_message()
        self.factory.handover = msg
        self.factory.commands_at_handover = self.link.commands_sent
        return msg


class _RecordingChip:
    def __init__(self, chip: Any):
        self.chip = chip
        self.rnd_ic: bytes | None = None

    def transmit(self, apdu: bytes) -> bytes:
        resp = self.chip.transmit(apdu)
        if apdu[:2] == b"\x00\x84":            # GET CHALLENGE: RND.IC, plain, before SM
            self.rnd_ic = resp[:-2]
        return resp


@pytest_twisted.ensureDeferred
async def test_handover_ssc_is_the_signed_value_of_an_independent_count() -> None:
    """After BAC, SSC = RND.IC[4:8] | RND.IFD[4:8] (ICAO 9303-11 §9.8.2), +2 per protected
    command; the wire carries it as a signed 64-bit number.  Sessions repeat until one
    SSC has its top bit set (half of them), so the negative case is always covered."""
    from twisted.internet import reactor
    from docval.sim.phone_v2 import PhoneV2Factory
    from docval.sim.phone import connect

    seen_negative = seen_positive = False
    for _attempt in range(40):
        server = Server(reactor)
        rnd = os.urandom(24)
        chip = _RecordingChip(profiles.get_profile("bac-3des").chip())
        taken: list[bytes] = []

        def rng(n: int, _rnd=rnd, _taken=taken) -> bytes:
            start = sum(len(t) for t in _taken)
            _taken.append(_rnd[start:start + n])
            return _taken[-1]

        opts = PhoneV2Options(access_key=profiles.get_profile("bac-3des").access_key, rng=rng)
        factory = PhoneV2Factory(server.url, chip, opts, reactor=reactor, protocol=_SscSpy)
        try:
            await connect(factory, server.url, reactor)
        finally:
            await server.stop()
        rnd_ifd = rnd[:8]
        # The protected commands after BAC: each one a wrap and an unwrap.
        expected = int.from_bytes(chip.rnd_ic[4:8] + rnd_ifd[4:8], "big") + 2 * (factory.commands_at_handover - factory.commands_at_bac)
        expected %= 1 << 64
        signed = expected - (1 << 64) if expected >= 1 << 63 else expected
        wire = factory.handover["secureMessagingInfo"]["ssc"]
        assert wire == signed
        assert json.loads(json.dumps(factory.handover))["secureMessagingInfo"]["ssc"] == signed
        seen_negative |= wire < 0
        seen_positive |= wire >= 0
        if seen_negative and seen_positive:
            break
    assert seen_negative and seen_positive


@pytest_twisted.ensureDeferred
async def test_handover_ssc_after_pace_counts_from_zero() -> None:
    """PACE starts Secure Messaging at SSC 0 (ICAO 9303-11 §9.8.2): two per protected command."""
    from twisted.internet import reactor
    from docval.sim.phone_v2 import PhoneV2Factory
    from docval.sim.phone import connect

    server = Server(reactor)
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    factory = PhoneV2Factory(server.url, profile.chip(), PhoneV2Options(access_key=profile.access_key),
                             reactor=reactor, protocol=_SscSpy)
    try:
        await connect(factory, server.url, reactor)
    finally:
        await server.stop()
    info = factory.handover["secureMessagingInfo"]
    assert info["algorithm"] == "AES"
    assert info["ssc"] == 2 * (factory.commands_at_handover - factory.commands_at_bac) > 0


class _SyncStart(PhoneV2Protocol):
    def on_open(self) -> None:
        # sync=True goes through Autobahn's own send queue (its _send()).
        self.sendMessage(json.dumps(self.options.start_message()).encode(), isBinary=False, sync=True)


@pytest_twisted.ensureDeferred
async def test_autobahns_own_send_queue_still_works() -> None:
    from twisted.internet import reactor
    server = Server(reactor)
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    try:
        record = await run_phone_v2(server.url, profile.chip(), PhoneV2Options(access_key=profile.access_key),
                                    reactor=reactor, protocol=_SyncStart)
    finally:
        await server.stop()
    assert record.close_code == 1000 and record.phone_close is None and server.factory.violations == []


def test_expected_v2_for_profiles() -> None:
    cam = profiles.get_profile("pace-ecdh-cam-aes128").expect
    assert expected_v2(cam, PhoneV2Options(access_key=None))["chipAuthenticationResult"] == "UNAVAILABLE"
    clone = profiles.get_profile("clone").expect
    assert expected_v2(clone, PhoneV2Options(access_key=None)) == {"close": (1011, "COMMUNICATION_FAILED")}
    untrusted = profiles.get_profile("untrusted").expect
    assert expected_v2(untrusted, PhoneV2Options(access_key=None))["chipAuthenticationResult"] == "FAILED"
    ref = profiles.get_profile("pace-ecdh-gm-aes128").expect
    assert expected_v2(ref, PhoneV2Options(access_key=None, skip_aa_after_ca=True)) == {
        "chipAuthenticationResult": "SUCCESS", "activeAuthenticationResult": "UNAVAILABLE",
        "passiveAuthentication": True}
