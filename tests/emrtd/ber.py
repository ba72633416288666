"""Turn DER into BER with indefinite lengths, the way some issuers encode SODs."""
from __future__ import annotations

from docval.emrtd import tlv


def _header(data: bytes, off: int) -> tuple[bytes, int, int]:
    tag, o = tlv.read_tag(data, off)
    length, o2 = tlv.read_length(data, o)
    return data[off:o], o2, length


def to_indefinite(der: bytes, *, chunk_octet_strings: bool = True, skip_tags: tuple[int, ...] = ()) -> bytes:
    """Re-encode every constructed DER element with indefinite length.

    Primitive OCTET STRINGs longer than 16 bytes become constructed chunked
    strings when ``chunk_octet_strings`` is set.  Elements whose first tag
    byte is in ``skip_tags`` are copied verbatim (e.g. signed attributes, whose
    exact encoding the signature covers).
    """
    out = bytearray()
    off = 0
    while off < len(der):
        tag_bytes, vstart, length = _header(der, off)
        value = der[vstart:vstart + length]
        end = vstart + length
        if tag_bytes[0] in skip_tags:
            out += der[off:end]
        elif tag_bytes[0] & 0x20:
            out += tag_bytes + b"\x80" + to_indefinite(value, chunk_octet_strings=chunk_octet_strings,
                                                        skip_tags=skip_tags) + b"\x00\x00"
        elif tag_bytes == b"\x04" and chunk_octet_strings and length > 16:
            chunks = [value[i:i + 16] for i in range(0, len(value), 16)]
            out += b"\x24\x80" + b"".join(tlv.encode(0x04, c) for c in chunks) + b"\x00\x00"
        else:
            out += der[off:end]
        off = end
    return bytes(out)
