"""CMS signing for the test PKI: EF.SOD (an LDS security object), EF.CardSecurity
(SecurityInfos) and CSCA master lists, as real SignedData with signed attributes.

Part of :mod:`docval.sim.pki`, which re-exports every public name here.  Without a
signer, :func:`sod_for_data_groups` and :func:`sign_card_security` sign with the demo
DSC (:mod:`docval.sim.pki_demo`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from asn1crypto import algos, cms, core, x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding

from docval.emrtd import hashes, signatures, tlv
from docval.sim.pki_certs import Signer
from docval.sim.pki_demo import demo_pki

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_LDS_SECURITY_OBJECT_LEGACY = "1.3.27.1.1.1"
OID_SECURITY_OBJECT = "0.4.0.127.0.7.3.2.1"      # EF.CardSecurity content (TR-03110 id-SecurityObject)
OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"

_HASH_ASN1 = {"SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384",
              "SHA-512": "sha512"}



def _signature_algorithm(signer_key: Any, scheme: str, hash_name: str) -> dict:
    h = _HASH_ASN1[hash_name]
    if scheme == signatures.ECDSA:
        return {"algorithm": f"{h}_ecdsa"}
    if scheme == signatures.RSA_PKCS1:
        return {"algorithm": f"{h}_rsa"}
    if scheme == signatures.RSA_PSS:
        return {"algorithm": "rsassa_pss", "parameters": algos.RSASSAPSSParams({
            "hash_algorithm": {"algorithm": h},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": h}},
            "salt_length": hashes.digest_size(hash_name),
        })}
    raise ValueError(f"cannot sign with scheme {scheme}")


def _sign(key: Any, scheme: str, hash_name: str, data: bytes) -> bytes:
    h = hashes.crypto_hash(hash_name)
    if scheme == signatures.ECDSA:
        return key.sign(data, ec.ECDSA(h))
    if scheme == signatures.RSA_PKCS1:
        return key.sign(data, padding.PKCS1v15(), h)
    if scheme == signatures.RSA_PSS:
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=hashes.digest_size(hash_name)), h)
    raise ValueError(f"cannot sign with scheme {scheme}")


def sign_signed_data(econtent_type: str, econtent: bytes, signer: Signer, hash_name: str = "SHA-256", *,
                     signing_time: datetime | None = None, extra_certificates: tuple[bytes, ...] = (),
                     include_certificate: bool = True, use_ski: bool = False) -> bytes:
    """A DER CMS ContentInfo/SignedData with signed attributes, signed by ``signer``."""
    digest = hashes.digest(hash_name, econtent)
    attrs = [
        {"type": "content_type", "values": [econtent_type]},
        {"type": "message_digest", "values": [digest]},
    ]
    if signing_time is not None:
        attrs.insert(1, {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]})
    signed_attrs = cms.CMSAttributes(attrs)
    signature = _sign(signer.key, signer.scheme, hash_name, signed_attrs.dump())
    cert = asn1x509.Certificate.load(signer.cert_der)
    if use_ski:
        sid = cms.SignerIdentifier(name="subject_key_identifier", value=cert.key_identifier)
        version = "v3"
    else:
        sid = cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": cert.issuer, "serial_number": cert.serial_number})
        version = "v1"
    signer_info = cms.SignerInfo({
        "version": version,
        "sid": sid,
        "digest_algorithm": {"algorithm": _HASH_ASN1[hash_name]},
        "signed_attrs": signed_attrs,
        "signature_algorithm": _signature_algorithm(signer.key, signer.scheme, hash_name),
        "signature": signature,
    })
    certificates = ([cert] if include_certificate else []) + [asn1x509.Certificate.load(c) for c in extra_certificates]
    signed_data = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": _HASH_ASN1[hash_name]}],
        "encap_content_info": {"content_type": econtent_type,
                               "content": core.ParsableOctetString(econtent)},
        "signer_infos": [signer_info],
    }
    if certificates:
        signed_data["certificates"] = certificates
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)}).dump()


class _DataGroupHash(core.Sequence):
    _fields = [("number", core.Integer), ("hash", core.OctetString)]


class _LDSVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class _LDSSecurityObject(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("hashes", core.SequenceOf, {"spec": _DataGroupHash}),
        ("version_info", _LDSVersionInfo, {"optional": True}),
    ]


def lds_security_object(dg_hashes: dict[int, bytes], hash_name: str, *, lds_version: str | None = None) -> bytes:
    value = {
        "version": 1 if lds_version else 0,
        "hash_algorithm": {"algorithm": _HASH_ASN1[hash_name]},
        "hashes": [{"number": n, "hash": h} for n, h in sorted(dg_hashes.items())],
    }
    if lds_version:
        value["version_info"] = {"lds_version": lds_version, "unicode_version": "040000"}
    return _LDSSecurityObject(value).dump()


def sign_sod(dg_hashes: dict[int, bytes], hash_name: str, dsc_key: Any, dsc_cert: x509.Certificate, *,
             scheme: str | None = None, signing_time: datetime | None = None,
             lds_version: str | None = "0108", legacy_oid: bool = False, use_ski: bool = False) -> bytes:
    """EF.SOD (tag 77) for these DG hashes, signed by the DSC (scheme from its key type:
    ECDSA for EC keys, RSASSA-PSS for RSA keys unless ``scheme`` says otherwise)."""
    if scheme is None:
        scheme = signatures.ECDSA if isinstance(dsc_key, ec.EllipticCurvePrivateKey) else signatures.RSA_PSS
    content = lds_security_object(dg_hashes, hash_name, lds_version=lds_version)
    econtent_type = OID_LDS_SECURITY_OBJECT_LEGACY if legacy_oid else OID_LDS_SECURITY_OBJECT
    der = sign_signed_data(econtent_type, content, Signer(dsc_key, dsc_cert, scheme), hash_name,
                           signing_time=signing_time, use_ski=use_ski)
    return tlv.encode(0x77, der)


def sod_for_data_groups(data_groups: dict[int, bytes], signer: Signer | None = None,
                        hash_name: str = "SHA-256", **kwargs: Any) -> bytes:
    """EF.SOD covering the given DG files (demo DSC by default)."""
    signer = signer or demo_pki().dsc
    hashes_ = {n: hashes.digest(hash_name, data) for n, data in data_groups.items()}
    return sign_sod(hashes_, hash_name, signer.key, signer.cert, scheme=signer.scheme, **kwargs)


def sign_card_security(security_infos_der: bytes, dsc_key: Any = None, dsc_cert: x509.Certificate | None = None,
                       hash_name: str = "SHA-256", *, scheme: str | None = None) -> bytes:
    """EF.CardSecurity: SecurityInfos signed like a SOD (demo DSC by default)."""
    if dsc_key is None:
        signer = demo_pki().dsc
        dsc_key, dsc_cert, scheme = signer.key, signer.cert, signer.scheme
    if dsc_cert is None:
        raise ValueError("dsc_cert is needed with dsc_key")
    if scheme is None:
        scheme = signatures.ECDSA if isinstance(dsc_key, ec.EllipticCurvePrivateKey) else signatures.RSA_PSS
    return sign_signed_data(OID_SECURITY_OBJECT, security_infos_der, Signer(dsc_key, dsc_cert, scheme), hash_name)


class _CertificateSet(core.SetOf):
    _child_spec = asn1x509.Certificate


class _CscaMasterList(core.Sequence):
    _fields = [("version", core.Integer), ("cert_list", _CertificateSet)]


def make_master_list(csca_certs_der: list[bytes], signer: Signer, hash_name: str = "SHA-256") -> bytes:
    """An ICAO CSCA master list (CMS) holding these certificates, signed by ``signer``."""
    content = _CscaMasterList({"version": 0, "cert_list": [asn1x509.Certificate.load(c) for c in csca_certs_der]})
    return sign_signed_data(OID_CSCA_MASTER_LIST, content.dump(), signer, hash_name)
