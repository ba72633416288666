"""CMS SignedData (RFC 5652) as used by EF.SOD, EF.CardSecurity and master lists.

Everything is read eagerly inside one guarded block, so malformed input fails
here with ParseError and never later with an asn1crypto exception.  BER is
accepted (real SODs use indefinite lengths); the exact bytes that were signed
(eContent, signed attributes) are kept so that Passive Authentication hashes
what the issuer hashed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import cms
from asn1crypto import core as asn1

from docval.emrtd import tlv
from docval.emrtd.certificate import Certificate, NameKey, from_asn1, name_key, name_text
from docval.emrtd.errors import EmrtdError, ParseError

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"

MAX_SIGNED_DATA_BYTES = 8 << 20     # a full master list is ~1 MB
MAX_DEPTH = 64                      # far deeper than any CMS structure needs


@dataclass(frozen=True, repr=False)
class SignerInfo:
    version: int
    # sid: issuerAndSerialNumber (issuer_key/serial) or subjectKeyIdentifier (ski)
    issuer_key: NameKey | None
    issuer_text: str | None
    serial: int | None
    ski: bytes | None
    digest_oid: str
    signature_oid: str
    signature_params: bytes          # DER, b"" when absent or NULL
    signature: bytes
    # signed attributes as the signature covers them: SET OF (tag 31)
    signed_attrs_der: bytes | None
    # the same re-encoded by asn1crypto when that differs (non-DER signed attributes)
    signed_attrs_reencoded: bytes | None
    signed_attrs: dict[str, list[bytes]]   # attribute OID -> DER of each value
    content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None

    def __repr__(self) -> str:
        return f"<SignerInfo {self.signature_oid}>"


@dataclass(frozen=True, repr=False)
class SignedData:
    version: int
    digest_oids: list[str]
    econtent_type: str
    econtent: bytes
    certificates: list[Certificate]
    crls: list[bytes]
    signer_infos: list[SignerInfo]

    def __repr__(self) -> str:
        return f"<SignedData {self.econtent_type} signers={len(self.signer_infos)}>"

    @property
    def content(self) -> bytes:
        """The eContent (e.g. SecurityInfos of EF.CardSecurity)."""
        return self.econtent


def _header(data: bytes, i: int, end: int) -> tuple[bool, int, int | None]:
    """(constructed, offset of contents, length or None for indefinite)."""
    if i >= end:
        raise ParseError("truncated ASN.1 header")
    first = data[i]
    i += 1
    if first & 0x1F == 0x1F:
        count = 0
        while True:
            if i >= end:
                raise ParseError("truncated ASN.1 tag")
            count += 1
            if count > 4:
                raise ParseError("ASN.1 tag too long")
            more = data[i] & 0x80
            i += 1
            if not more:
                break
    if i >= end:
        raise ParseError("truncated ASN.1 length")
    lb = data[i]
    i += 1
    if lb == 0x80:
        return bool(first & 0x20), i, None
    if lb & 0x80:
        k = lb & 0x7F
        if k > 4 or i + k > end:
            raise ParseError("bad ASN.1 length")
        length = int.from_bytes(data[i:i + k], "big")
        i += k
    else:
        length = lb
    if i + length > end:
        raise ParseError("ASN.1 length runs past the end")
    return bool(first & 0x20), i, length


def _definite(data: bytes, i: int, end: int, depth: int) -> tuple[bytes, int]:
    """Re-encode one element with definite lengths; (bytes, offset after it).

    Elements that contain no indefinite length are returned byte for byte, so
    signed parts keep their exact encoding.  asn1crypto itself only follows ten
    levels of indefinite nesting, and this walk also bounds depth (T3).
    """
    if depth > MAX_DEPTH:
        raise ParseError("ASN.1 nesting too deep")
    start = i
    constructed, body, length = _header(data, i, end)
    if length is None:
        if not constructed:
            raise ParseError("indefinite length on a primitive ASN.1 value")
        parts = []
        j = body
        while True:
            if j + 2 > end:
                raise ParseError("unterminated indefinite length")
            if data[j] == 0 and data[j + 1] == 0:
                j += 2
                break
            part, j = _definite(data, j, end, depth + 1)
            parts.append(part)
        if data[start] == 0x24:
            return _join_octet_string(parts), j
        content = b"".join(parts)
        return data[start:body - 1] + tlv.encode_length(len(content)) + content, j
    stop = body + length
    if not constructed:
        return data[start:stop], stop
    parts = []
    changed = False
    j = body
    while j < stop:
        part, k = _definite(data, j, stop, depth + 1)
        changed = changed or len(part) != k - j
        parts.append(part)
        j = k
    if data[start] == 0x24:
        return _join_octet_string(parts), stop
    if not changed:
        return data[start:stop], stop
    content = b"".join(parts)
    return data[start:body - _length_octets(data, start)] + tlv.encode_length(len(content)) + content, stop


def _join_octet_string(parts: list[bytes]) -> bytes:
    """A constructed (chunked) OCTET STRING as the primitive DER one.

    asn1crypto parses the CMS eContent only in its primitive form.
    """
    chunks = []
    for part in parts:
        if not part or part[0] != 0x04:
            raise ParseError("constructed OCTET STRING with a non-OCTET STRING chunk")
        _, body, length = _header(part, 0, len(part))
        if length is None:      # the parts were made definite by _definite
            raise ParseError("indefinite length inside a constructed OCTET STRING")
        chunks.append(part[body:body + length])
    content = b"".join(chunks)
    return b"\x04" + tlv.encode_length(len(content)) + content


def _length_octets(data: bytes, start: int) -> int:
    i = start + 1
    if data[start] & 0x1F == 0x1F:
        while data[i] & 0x80:
            i += 1
        i += 1
    lb = data[i]
    return 1 + (lb & 0x7F if lb & 0x80 else 0)


def to_definite(data: bytes) -> bytes:
    """BER with indefinite lengths -> the same element with definite lengths."""
    out, end = _definite(data, 0, len(data), 0)
    if end != len(data):
        raise ParseError(f"{len(data) - end} trailing bytes after the ASN.1 value")
    return out


def unwrap_application(data: bytes, tag: int) -> bytes:
    """The value of a one-byte application tag (EF.SOD's 77), definite or indefinite."""
    data = bytes(data)
    if not data or data[0] != tag:
        raise ParseError(f"expected tag {tag:X}")
    if len(data) >= 2 and data[1] == 0x80:
        if not data.endswith(b"\x00\x00") or len(data) < 4:
            raise ParseError(f"tag {tag:X}: unterminated indefinite length")
        return data[2:-2]
    try:
        return tlv.parse_single(data, tag, max_length=MAX_SIGNED_DATA_BYTES).value
    except EmrtdError as exc:
        raise ParseError(f"tag {tag:X}: {exc}") from None


def _attr_values(attrs: cms.CMSAttributes) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in out:
            raise ParseError(f"signed attribute {oid} appears twice")
        out[oid] = [v.dump() for v in attr["values"]]
    return out


def _single(values: dict[str, list[bytes]], oid: str, what: str) -> bytes | None:
    found = values.get(oid)
    if found is None:
        return None
    if len(found) != 1:
        raise ParseError(f"signed attribute {what} must have exactly one value")
    return found[0]


def _signer_info(si: cms.SignerInfo) -> SignerInfo:
    sid = si["sid"]
    issuer_key = issuer_text = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        issuer_key, issuer_text = name_key(issuer), name_text(issuer)
        serial = sid.chosen["serial_number"].native
    else:
        ski = sid.chosen.native
    alg = si["signature_algorithm"]
    params = alg["parameters"]
    params_der = b"" if isinstance(params, asn1.Void) else params.dump()
    if params_der == b"\x05\x00":
        params_der = b""
    attrs = si["signed_attrs"]
    signed_der = reencoded = None
    values: dict[str, list[bytes]] = {}
    content_type = message_digest = signing_time = None
    if not isinstance(attrs, asn1.Void):
        raw = attrs.dump()
        # The signature covers the DER SET OF: the [0] IMPLICIT tag becomes 31.
        signed_der = b"\x31" + raw[1:]
        reencoded = cms.CMSAttributes.load(signed_der).dump(force=True)
        if reencoded == signed_der:
            reencoded = None
        values = _attr_values(attrs)
        ct = _single(values, OID_CONTENT_TYPE, "contentType")
        if ct is not None:
            content_type = asn1.ObjectIdentifier.load(ct).dotted
        md = _single(values, OID_MESSAGE_DIGEST, "messageDigest")
        if md is not None:
            message_digest = asn1.OctetString.load(md).native
        st = _single(values, OID_SIGNING_TIME, "signingTime")
        if st is not None:
            t = cms.Time.load(st).native
            signing_time = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return SignerInfo(
        version=int(si["version"]),
        issuer_key=issuer_key, issuer_text=issuer_text, serial=serial, ski=ski,
        digest_oid=si["digest_algorithm"]["algorithm"].dotted,
        signature_oid=alg["algorithm"].dotted, signature_params=params_der,
        signature=si["signature"].native,
        signed_attrs_der=signed_der, signed_attrs_reencoded=reencoded, signed_attrs=values,
        content_type=content_type, message_digest=message_digest, signing_time=signing_time,
    )


def parse_signed_data(data: bytes) -> SignedData:
    """Parse a CMS ContentInfo holding SignedData; ParseError on anything malformed."""
    data = bytes(data)
    if len(data) > MAX_SIGNED_DATA_BYTES:
        raise ParseError("signed data larger than the limit")
    data = to_definite(data)
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            raise ParseError("content is not CMS SignedData")
        sd = info["content"]
        version = int(sd["version"])
        digest_oids = [a["algorithm"].dotted for a in sd["digest_algorithms"]]
        encap = sd["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        content = encap["content"]
        if isinstance(content, asn1.Void):
            raise ParseError("SignedData without encapsulated content")
        # For a constructed (BER) OCTET STRING asn1crypto joins the chunks.
        econtent = bytes(content) if not content.method else asn1.OctetString.load(content.dump()).native
        certificates = []
        if not isinstance(sd["certificates"], asn1.Void):
            for choice in sd["certificates"]:
                if choice.name == "certificate":
                    certificates.append(from_asn1(choice.chosen))
        crls = []
        if not isinstance(sd["crls"], asn1.Void):
            crls = [c.dump() for c in sd["crls"]]
        signer_infos = [_signer_info(si) for si in sd["signer_infos"]]
    except EmrtdError:
        raise
    except Exception:
        raise ParseError("malformed CMS SignedData") from None
    if not isinstance(econtent, bytes):
        raise ParseError("malformed encapsulated content")
    return SignedData(version=version, digest_oids=digest_oids, econtent_type=econtent_type,
                      econtent=econtent, certificates=certificates, crls=crls,
                      signer_infos=signer_infos)
