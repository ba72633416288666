"""Hostile v2 phones: the v2 virtual phone (docval.sim.phone_v2) with one behaviour broken
on purpose, selectable by name, each with the server's answer the protocol demands
(docs/websocket-api-v2.md §4, §5, §6)::

    behaviour = phone_behaviours_v2()["lying-ssc"]
    record = await run_hostile_phone_v2(reactor, "ws://127.0.0.1:PORT/ws2/validate", behaviour,
                                        profile=profiles.get_profile("pace-ecdh-gm-aes128"))
    assert (record.close_code, record.close_reason) == behaviour.expect

Everything else about these phones is the real v2 phone: they read the virtual chip
locally, so the server sees genuine files, keys and chip answers around the one fault.
``expect`` is the close the server must send, as the phone records it (an empty reason
is None): None when the phone itself goes away
(the test then checks what the server did with the session: posted or not).
``expect_result`` names RESULT fields the session must end with, when it completes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from docval.sim.phone_v2 import APDU_FRAME, PhoneV2Options, PhoneV2Protocol, run_phone_v2

UNEXPECTED = (1008, "UNEXPECTED_MESSAGE")
OVERSIZED_FILE_BYTES = 65536 + 1       # above the largest file an LDS can hold (the v1 file cap)
MONITORING_SPAM = 500                  # MONITORING messages, 1 KB each, while reading


class _OversizedFile(PhoneV2Protocol):
    def final_files(self) -> list[tuple[str, bytes]]:
        # dg3: EAC-protected, never read by this phone, so the name itself is no duplicate.
        return [("dg3", b"\x63\x83" + b"\x00" * OVERSIZED_FILE_BYTES)] + super().final_files()


class _DuplicateFile(PhoneV2Protocol):
    def final_files(self) -> list[tuple[str, bytes]]:
        files = super().final_files()
        first = next((f for f in files if f[0] != "sod"), files[0])
        return [first] + files


class _UnknownFileName(PhoneV2Protocol):
    def final_files(self) -> list[tuple[str, bytes]]:
        return [("cardAccess", b"\x31\x00")] + super().final_files()


class _HandoverBeforeDg14(PhoneV2Protocol):
    def send_file(self, name: str, data: bytes) -> None:
        if name == "dg14" and not self.record.handed_over:
            self.sent.add(name)     # pretend: the server never gets it before CA_HANDOVER
            return
        super().send_file(name, data)


class _ApduWithoutCommand(PhoneV2Protocol):
    async def access_control(self) -> bool:
        pace = await super().access_control()
        # A chip answer while the server has sent no command (READING, no relay).
        self.send_raw(bytes((APDU_FRAME,)) + b"\x90\x00", True)
        return pace


class _LyingSsc(PhoneV2Protocol):
    def handover_message(self) -> dict[str, Any]:
        msg = super().handover_message()
        info = msg["secureMessagingInfo"]
        # Two ahead: the server's first command then carries a MAC the chip rejects.
        info["ssc"] = ((info["ssc"] + 2 + (1 << 63)) % (1 << 64)) - (1 << 63)
        return msg


class _SkipsHandover(PhoneV2Protocol):
    def wants_handover(self) -> bool:
        return False


class _FinishWithoutSod(PhoneV2Protocol):
    def final_files(self) -> list[tuple[str, bytes]]:
        return [f for f in super().final_files() if f[0] != "sod"]


class _DropsWhenWritten(PhoneV2Protocol):
    def drop_when_written(self) -> None:
        """Drops the TCP connection, without a WebSocket close, once everything sent so far
        has been written: after the network delay, and once Autobahn's send queue is empty
        (it writes one queued message per reactor turn, so under load a fixed pause could
        cut the files off and test something else)."""
        def drop() -> None:
            if self.send_queue:
                self.later(0.001, drop)
            elif self.transport is not None:
                self.transport.loseConnection()
        self.later(self.options.delay + 0.001, drop)


class _DisconnectBeforeFinish(_DropsWhenWritten):
    def finish(self) -> None:
        # Every file is on its way; the connection goes instead of the FINISH.
        self.drop_when_written()


class _DisconnectAfterFinish(_DropsWhenWritten):
    def finish(self) -> None:
        super().finish()
        self.drop_when_written()


class _MonitoringSpam(PhoneV2Protocol):
    async def access_control(self) -> bool:
        for i in range(MONITORING_SPAM):
            self.send_json({"type": "MONITORING", "message": f"Step: SPAM {i} " + "x" * 1000})
        return await super().access_control()


class _BinaryBeforeStart(PhoneV2Protocol):
    def on_open(self) -> None:
        self.send_raw(json.dumps(self.options.start_message()).encode(), True)


class _SecondStart(PhoneV2Protocol):
    async def access_control(self) -> bool:
        self.send_json(self.options.start_message())
        return await super().access_control()


@dataclass(frozen=True)
class HostileV2:
    name: str
    protocol: type[PhoneV2Protocol]
    expect: tuple[int, str | None] | None
    what: str
    expect_result: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def phone_behaviours_v2() -> dict[str, HostileV2]:
    behaviours = [
        HostileV2("oversized-file", _OversizedFile, UNEXPECTED, "a file larger than an LDS file can be"),
        HostileV2("duplicate-file", _DuplicateFile, UNEXPECTED, "one file name sent twice"),
        HostileV2("unknown-file-name", _UnknownFileName, UNEXPECTED, "a file named cardAccess"),
        HostileV2("handover-before-dg14", _HandoverBeforeDg14, UNEXPECTED, "CA_HANDOVER without dg14 first"),
        HostileV2("apdu-without-command", _ApduWithoutCommand, UNEXPECTED,
                  "an APDU frame when no command is outstanding"),
        HostileV2("lying-ssc", _LyingSsc, (1011, "COMMUNICATION_FAILED"),
                  "a handover SSC two ahead of the chip's: the relay's Secure Messaging breaks"),
        HostileV2("skips-handover", _SkipsHandover, (1000, None),
                  "no handover on a document whose DG14 offers chip authentication",
                  expect_result={"chipAuthenticationResult": "FAILED"}),
        HostileV2("finish-without-sod", _FinishWithoutSod, (1011, "FILE_READ_ERROR"), "FINISH with no sod sent"),
        HostileV2("disconnect-before-finish", _DisconnectBeforeFinish, None,
                  "every file sent, then the connection drops before FINISH: nothing is posted"),
        HostileV2("disconnect-after-finish", _DisconnectAfterFinish, None,
                  "the connection drops right after FINISH: the result is still posted",
                  options={"send_result": False}),
        HostileV2("monitoring-spam", _MonitoringSpam, (1000, None),
                  f"{MONITORING_SPAM} MONITORING messages of 1 KB: accepted and ignored"),
        HostileV2("binary-before-start", _BinaryBeforeStart, UNEXPECTED, "START sent as a binary message"),
        HostileV2("second-start", _SecondStart, UNEXPECTED, "START again after ACCEPT"),
    ]
    return {b.name: b for b in behaviours}


def run_hostile_phone_v2(reactor: Any, url: str, behaviour: HostileV2, *, profile: Any,
                         client_id: str = "YOUR CLIENT ID", **options: Any) -> Any:
    """Fires with the phone's PhoneV2Record once the connection is gone."""
    opts = PhoneV2Options(access_key=profile.access_key, client_id=client_id,
                          **{**behaviour.options, **options})
    return run_phone_v2(url, profile.chip(), opts, reactor=reactor, protocol=behaviour.protocol)
