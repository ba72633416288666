"""ISO/IEC 7816-4 command and response APDUs, short and extended length.

``le`` is the number of response bytes asked for, as a plain integer: ``None``
means no Le field, 256 is encoded as ``00`` in a short APDU and 65536 as ``0000``
in an extended one.  An APDU is extended when its data or Le do not fit the short
form, or when ``extended=True`` forces it.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd.errors import CommunicationError
# Re-exported (``X as X``): callers spell apdu.SW_OK.
from docval.emrtd.status import SW_OK as SW_OK
from docval.emrtd.status import SW_END_OF_FILE as SW_END_OF_FILE
from docval.emrtd.status import SW_WRONG_LENGTH as SW_WRONG_LENGTH
from docval.emrtd.status import SW_LAST_COMMAND_EXPECTED as SW_LAST_COMMAND_EXPECTED
from docval.emrtd.status import SW_CHAINING_NOT_SUPPORTED as SW_CHAINING_NOT_SUPPORTED
from docval.emrtd.status import SW_SECURITY_NOT_SATISFIED as SW_SECURITY_NOT_SATISFIED
from docval.emrtd.status import SW_AUTH_METHOD_BLOCKED as SW_AUTH_METHOD_BLOCKED
from docval.emrtd.status import SW_SM_DATA_MISSING as SW_SM_DATA_MISSING
from docval.emrtd.status import SW_SM_DATA_INCORRECT as SW_SM_DATA_INCORRECT
from docval.emrtd.status import SW_CONDITIONS_NOT_SATISFIED as SW_CONDITIONS_NOT_SATISFIED
from docval.emrtd.status import SW_WRONG_DATA as SW_WRONG_DATA
from docval.emrtd.status import SW_FUNCTION_NOT_SUPPORTED as SW_FUNCTION_NOT_SUPPORTED
from docval.emrtd.status import SW_FILE_NOT_FOUND as SW_FILE_NOT_FOUND
from docval.emrtd.status import SW_WRONG_P1P2 as SW_WRONG_P1P2
from docval.emrtd.status import SW_REFERENCED_DATA_NOT_FOUND as SW_REFERENCED_DATA_NOT_FOUND
from docval.emrtd.status import SW_OFFSET_OUTSIDE_EF as SW_OFFSET_OUTSIDE_EF
from docval.emrtd.status import SW_INS_NOT_SUPPORTED as SW_INS_NOT_SUPPORTED
from docval.emrtd.status import SW_CLA_NOT_SUPPORTED as SW_CLA_NOT_SUPPORTED
from docval.emrtd.status import SW_UNKNOWN as SW_UNKNOWN
from docval.emrtd.status import is_iso_status as is_iso_status
from docval.emrtd.status import sw_name as sw_name

MAX_SHORT_LC = 255
MAX_SHORT_LE = 256
MAX_EXTENDED_LC = 65535
MAX_EXTENDED_LE = 65536
MAX_SHORT_COMMAND = 4 + 1 + MAX_SHORT_LC + 1     # header, Lc, 255 data bytes, Le
CLA_CHAINING = 0x10                             # ISO/IEC 7816-4 CLA b5: more commands of this chain follow


@dataclass(frozen=True)
class CommandAPDU:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} out of range")
        if len(self.data) > MAX_EXTENDED_LC:
            raise ValueError("command data longer than 65535 bytes")
        if self.le is not None and not 1 <= self.le <= MAX_EXTENDED_LE:
            raise ValueError("Le must be 1..65536")

    @property
    def is_extended(self) -> bool:
        return (
            self.extended
            or len(self.data) > MAX_SHORT_LC
            or (self.le is not None and self.le > MAX_SHORT_LE)
        )

    def encode(self) -> bytes:
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                if not self.data:
                    out += b"\x00"
                out += (self.le % MAX_EXTENDED_LE).to_bytes(2, "big")
        else:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.le is not None:
                out.append(self.le % MAX_SHORT_LE)
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes) -> "CommandAPDU":
        """Parse an encoded command (the chip side needs this); ValueError if malformed."""
        raw = bytes(raw)
        if len(raw) < 4:
            raise ValueError("command APDU shorter than 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], le=body[-1] or 256)
            raise ValueError("short command APDU with inconsistent Lc")
        # extended: first body byte is 00
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536, extended=True)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ValueError("extended command APDU with Lc = 0")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:], extended=True)
        if len(body) == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, body[3 : 3 + lc], le=le, extended=True)
        raise ValueError("extended command APDU with inconsistent Lc")

    def __repr__(self) -> str:
        # Never show the data field: it can hold key material or document data.
        return (
            f"CommandAPDU(cla={self.cla:02X} ins={self.ins:02X} p1={self.p1:02X} "
            f"p2={self.p2:02X} lc={len(self.data)} le={self.le})"
        )


def chain(cmd: CommandAPDU, max_data: int | None) -> list[CommandAPDU]:
    """Split a command whose data exceeds ``max_data`` bytes into an ISO/IEC 7816-4 chain.

    Every command but the last has CLA bit b5 set and no Le; the last carries
    the original CLA and Le.  The chip answers each part (9000 until the last),
    and under Secure Messaging each part is protected on its own, with its own
    SSC steps, as BSI TR-03110-3 describes for chained commands.
    """
    if max_data is None or len(cmd.data) <= max_data:
        return [cmd]
    if max_data < 1:
        raise ValueError("max_data must be at least 1")
    data = cmd.data
    parts = [data[i : i + max_data] for i in range(0, len(data), max_data)]
    out = [CommandAPDU(cmd.cla | CLA_CHAINING, cmd.ins, cmd.p1, cmd.p2, part) for part in parts[:-1]]
    out.append(CommandAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, parts[-1], le=cmd.le))
    return out


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def encode(self) -> bytes:
        return bytes(self.data) + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes) -> "ResponseAPDU":
        if len(raw) < 2:
            raise CommunicationError(f"response APDU of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def __repr__(self) -> str:
        return f"ResponseAPDU(len={len(self.data)} sw={self.sw:04X})"
