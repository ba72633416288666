"""EF.ATR/INFO (ISO/IEC 7816-4 §12.2.2.2, ICAO 9303-10 §3.11.1).

DocVal reads it only to learn how long commands and responses may be: the
extended length information DO '7F66' holds two INTEGERs, the largest command
and the largest response the chip accepts.  The card capabilities DO '47' says
whether the chip supports extended Lc/Le at all.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError, TLVError

TAG_CARD_CAPABILITIES = 0x47
TAG_EXTENDED_LENGTH_INFO = 0x7F66
_MAX_DEPTH = 4


@dataclass(frozen=True)
class AtrInfo:
    max_command_bytes: int | None = None
    max_response_bytes: int | None = None
    extended_length: bool | None = None   # from card capabilities, when present


def _int(item: tlv.TLV) -> int:
    if item.tag != 0x02 or not 1 <= len(item.value) <= 4:
        raise ParseError("EF.ATR/INFO: extended length information is not two small INTEGERs")
    return int.from_bytes(item.value, "big")


def parse_atr_info(data: bytes) -> AtrInfo:
    """Parse EF.ATR/INFO; unknown DOs are ignored, malformed ones raise ParseError."""
    max_cmd = max_resp = None
    extended = None
    try:
        # DOs may sit at the top level or inside a constructed wrapper; walk a few levels.
        pending = [(item, 0) for item in tlv.parse_all(data)]
        while pending:
            item, depth = pending.pop(0)
            if item.tag == TAG_EXTENDED_LENGTH_INFO:
                values = [_int(i) for i in item.children()]
                if len(values) < 2:
                    raise ParseError("EF.ATR/INFO: extended length information is incomplete")
                max_cmd, max_resp = values[0], values[1]
            elif item.tag == TAG_CARD_CAPABILITIES and len(item.value) >= 3:
                extended = bool(item.value[2] & 0x40)
            elif item.constructed and depth < _MAX_DEPTH:
                pending.extend((child, depth + 1) for child in item.children())
    except TLVError as exc:
        raise ParseError(f"EF.ATR/INFO: {exc}") from None
    return AtrInfo(max_cmd, max_resp, extended)


def encode_atr_info(max_command_bytes: int, max_response_bytes: int, extended: bool = True) -> bytes:
    """For the virtual chip: card capabilities and extended length information."""
    caps = bytes((0x00, 0x00, 0x40 if extended else 0x00))

    def integer(n: int) -> bytes:
        return tlv.encode(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))

    return tlv.encode(TAG_CARD_CAPABILITIES, caps) + tlv.encode(
        TAG_EXTENDED_LENGTH_INFO, integer(max_command_bytes) + integer(max_response_bytes)
    )
