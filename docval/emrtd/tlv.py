"""BER-TLV as used by ISO 7816-4 and the LDS (ICAO 9303-10).

Tags are kept as the integer of their raw bytes (``0x5F1F``, ``0x7F61``), the way
the standards write them.  Every function takes hostile input: truncated data,
lengths beyond the buffer or beyond ``max_length``, tags longer than four bytes,
indefinite lengths and nesting deeper than ``max_depth`` all raise
:class:`~docval.emrtd.errors.TLVError` and nothing else.

Signed structures (SOD, certificates) are parsed by asn1crypto, not here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from docval.emrtd.errors import TLVError

MAX_TAG_BYTES = 4
MAX_LENGTH_OCTETS = 4
DEFAULT_MAX_LENGTH = 1 << 20   # far above any eMRTD file (64 KiB cap) yet bounded
DEFAULT_MAX_DEPTH = 32


def is_constructed(tag: int) -> bool:
    first = tag
    while first > 0xFF:
        first >>= 8
    return bool(first & 0x20)


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise ValueError("negative tag")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(body) > MAX_LENGTH_OCTETS:
        raise ValueError("length too large")
    return bytes((0x80 | len(body),)) + body


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + bytes(value)


def encode_many(*items: tuple[int, bytes]) -> bytes:
    return b"".join(encode(tag, value) for tag, value in items)


def read_tag(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Return (tag, offset after the tag)."""
    if offset >= len(data):
        raise TLVError("truncated: no tag")
    first = data[offset]
    tag = first
    offset += 1
    if first & 0x1F == 0x1F:
        count = 1
        while True:
            if offset >= len(data):
                raise TLVError("truncated multi-byte tag")
            b = data[offset]
            tag = (tag << 8) | b
            offset += 1
            count += 1
            if count > MAX_TAG_BYTES:
                raise TLVError("tag longer than 4 bytes")
            if not b & 0x80:
                break
    return tag, offset


def read_length(data: bytes, offset: int, max_length: int = DEFAULT_MAX_LENGTH) -> tuple[int, int]:
    """Return (length, offset after the length field)."""
    if offset >= len(data):
        raise TLVError("truncated: no length")
    first = data[offset]
    offset += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise TLVError("indefinite length not allowed here")
    else:
        octets = first & 0x7F
        if octets > MAX_LENGTH_OCTETS:
            raise TLVError(f"length field of {octets} octets")
        if offset + octets > len(data):
            raise TLVError("truncated length field")
        length = int.from_bytes(data[offset : offset + octets], "big")
        offset += octets
    if length > max_length:
        raise TLVError(f"length {length} above the limit of {max_length}")
    return length, offset


def read_header(data: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> tuple[int, int, int]:
    """Parse only a TLV header: (tag, header length, value length).

    Used by file reading, which learns the file size from its first bytes.
    """
    tag, off = read_tag(data, 0)
    length, off = read_length(data, off, max_length)
    return tag, off, length


@dataclass(frozen=True)
class TLV:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def children(self) -> list["TLV"]:
        """Parse the value as a sequence of TLVs (for constructed tags)."""
        return parse_all(self.value)

    def find(self, tag: int) -> "TLV | None":
        """The first direct child with this tag, or None."""
        for child in self.children():
            if child.tag == tag:
                return child
        return None

    def require(self, tag: int) -> "TLV":
        child = self.find(tag)
        if child is None:
            raise TLVError(f"tag {tag:X} missing inside {self.tag:X}")
        return child

    def encode(self) -> bytes:
        return encode(self.tag, self.value)

    def __repr__(self) -> str:
        return f"TLV(tag={self.tag:X}, len={len(self.value)})"


def parse_one(data: bytes, offset: int = 0, max_length: int = DEFAULT_MAX_LENGTH) -> tuple[TLV, int]:
    """Parse one TLV at ``offset``; return it and the offset after it."""
    tag, off = read_tag(data, offset)
    length, off = read_length(data, off, max_length)
    end = off + length
    if end > len(data):
        raise TLVError(f"tag {tag:X}: length {length} runs past the end of the data")
    return TLV(tag, bytes(data[off:end])), end


def iter_tlvs(data: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> Iterator[TLV]:
    offset = 0
    while offset < len(data):
        item, offset = parse_one(data, offset, max_length)
        yield item


def parse_all(data: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> list[TLV]:
    """Parse a concatenation of TLVs (one level; use ``TLV.children`` to descend).

    Parsing is lazy per level on purpose: some constructed LDS tags hold values
    that are not TLV (the ICAO DG13 specimen), which a caller may still want.
    """
    return list(iter_tlvs(data, max_length))


def check_depth(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH, max_length: int = DEFAULT_MAX_LENGTH) -> None:
    """Validate a whole TLV tree down to the leaves, iteratively.

    For code that walks structures generically: a hostile structure nested
    thousands deep fails here with TLVError, never with RecursionError.
    """
    stack = [(item, 1) for item in iter_tlvs(data, max_length)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise TLVError(f"nesting deeper than {max_depth}")
        if item.constructed:
            stack.extend((child, depth + 1) for child in iter_tlvs(item.value, max_length))


def parse_single(data: bytes, expected_tag: int | None = None, *, allow_trailing: bool = False,
                 max_length: int = DEFAULT_MAX_LENGTH) -> TLV:
    """Parse data that must be exactly one TLV (optionally of a given tag)."""
    item, end = parse_one(data, 0, max_length)
    if end != len(data) and not allow_trailing:
        raise TLVError(f"{len(data) - end} trailing bytes after tag {item.tag:X}")
    if expected_tag is not None and item.tag != expected_tag:
        raise TLVError(f"expected tag {expected_tag:X}, found {item.tag:X}")
    return item
