"""The test PKI of the virtual passport: a CSCA of "Utopia" (UT), its DSCs, EF.SOD signing.

Shipped (not test-only) because integrators run the demo: the demo server
trusts :func:`demo_csca_pem` and the virtual passport's EF.SOD is signed by the
demo DSC, in any process, because the demo keys are fixed constants below.

THE DEMO KEYS ARE PUBLIC TEST MATERIAL.  Never trust the demo CSCA in production.

:func:`generate_pki` makes fresh PKIs for tests (untrusted CSCAs, other
curves, RSA), and the ``sign_*``/``make_*`` helpers produce real CMS
structures (EF.SOD, EF.CardSecurity, master lists) and CRLs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from asn1crypto import algos, cms, core, x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes as chashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from docval.emrtd import hashes, signatures, tlv

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_LDS_SECURITY_OBJECT_LEGACY = "1.3.27.1.1.1"
OID_SECURITY_OBJECT = "0.4.0.127.0.7.3.2.1"      # EF.CardSecurity content (TR-03110 id-SecurityObject)
OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"

DEMO_COUNTRY = "UT"
DEMO_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEMO_NOT_AFTER = datetime(2049, 12, 31, tzinfo=timezone.utc)

_HASH_ASN1 = {"SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384",
              "SHA-512": "sha512"}


@dataclass(frozen=True, repr=False)
class Signer:
    """A private key with its certificate; ``scheme`` is how it signs CMS."""

    key: Any                     # cryptography private key
    cert: x509.Certificate
    scheme: str = signatures.ECDSA     # signatures.ECDSA, signatures.RSA_PSS or signatures.RSA_PKCS1

    def __repr__(self) -> str:
        return f"<Signer {self.cert.subject.rfc4514_string()} {self.scheme}>"

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True, repr=False)
class PKI:
    csca: Signer
    dsc: Signer                  # ECDSA document signer
    dsc_rsa_pss: Signer          # RSA document signer using RSASSA-PSS

    def __repr__(self) -> str:
        return f"<PKI {self.csca.cert.subject.rfc4514_string()}>"


# --- certificates ---------------------------------------------------------------

def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DocVal Demo"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _cert_hash(key: Any) -> chashes.SHA256 | chashes.SHA384 | chashes.SHA512:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 384:
        return chashes.SHA512()
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return chashes.SHA384()
    return chashes.SHA256()


def make_csca(key: Any, *, country: str = DEMO_COUNTRY, common_name: str = "DocVal Demo CSCA",
              serial: int = 1, not_before: datetime = DEMO_NOT_BEFORE,
              not_after: datetime = DEMO_NOT_AFTER) -> x509.Certificate:
    name = _name(country, common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
        .sign(key, _cert_hash(key))
    )


def issue_certificate(csca: Signer, public_key: Any, *, common_name: str = "DocVal Demo DS",
                      country: str | None = None, serial: int = 2, ca: bool = False,
                      not_before: datetime = DEMO_NOT_BEFORE,
                      not_after: datetime = DEMO_NOT_AFTER) -> x509.Certificate:
    """A certificate issued by ``csca``: a DSC by default, a link certificate with ``ca``."""
    csca_ski = csca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    if not country:
        value = csca.cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
        country = value if isinstance(value, str) else value.decode()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(country, common_name)).issuer_name(csca.cert.subject)
        .public_key(public_key).serial_number(serial)
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.AuthorityKeyIdentifier(csca_ski.digest, None, None), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    return builder.sign(csca.key, _cert_hash(csca.key))


def generate_pki(*, country: str = DEMO_COUNTRY, curve: ec.EllipticCurve | None = None,
                 csca_rsa: bool = False, common_name: str = "DocVal Test CSCA",
                 not_before: datetime = DEMO_NOT_BEFORE, not_after: datetime = DEMO_NOT_AFTER) -> PKI:
    """A fresh CSCA with an ECDSA DSC and an RSA-PSS DSC (for tests)."""
    curve = curve or ec.BrainpoolP256R1()
    csca_key = rsa.generate_private_key(65537, 3072) if csca_rsa else ec.generate_private_key(curve)
    csca = Signer(csca_key, make_csca(csca_key, country=country, common_name=common_name,
                                      not_before=not_before, not_after=not_after),
                  signatures.RSA_PKCS1 if csca_rsa else signatures.ECDSA)
    dsc_key = ec.generate_private_key(curve)
    rsa_key = rsa.generate_private_key(65537, 2048)
    dsc = Signer(dsc_key, issue_certificate(csca, dsc_key.public_key(), serial=2,
                                            not_before=not_before, not_after=not_after), signatures.ECDSA)
    dsc_pss = Signer(rsa_key, issue_certificate(csca, rsa_key.public_key(), serial=3,
                                                common_name="DocVal Test DS RSA-PSS",
                                                not_before=not_before, not_after=not_after), signatures.RSA_PSS)
    return PKI(csca=csca, dsc=dsc, dsc_rsa_pss=dsc_pss)


# --- CMS -----------------------------------------------------------------------

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


def make_crl(csca: Signer, revoked_serials: list[int], *, this_update: datetime = DEMO_NOT_BEFORE,
             next_update: datetime | None = None) -> bytes:
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(csca.cert.subject)
               .last_update(this_update)
               .next_update(next_update or this_update + timedelta(days=3650)))
    ski = csca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = builder.add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build())
    return builder.sign(csca.key, _cert_hash(csca.key)).public_bytes(serialization.Encoding.DER)


# --- the demo PKI -----------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def demo_pki() -> PKI:
    """The fixed demo PKI of Utopia (same in every process)."""
    def load(pem: str) -> Any:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)

    def cert(pem: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))

    return PKI(
        csca=Signer(load(_DEMO_CSCA_KEY), cert(_DEMO_CSCA_CERT), signatures.ECDSA),
        dsc=Signer(load(_DEMO_DSC_KEY), cert(_DEMO_DSC_CERT), signatures.ECDSA),
        dsc_rsa_pss=Signer(load(_DEMO_DSC_RSA_KEY), cert(_DEMO_DSC_RSA_CERT), signatures.RSA_PSS),
    )


def demo_csca_pem() -> bytes:
    """The demo CSCA certificate the demo server trusts (PEM)."""
    return _DEMO_CSCA_CERT.encode("ascii")


def demo_csca_der() -> bytes:
    return demo_pki().csca.cert_der


def _generate_demo_material() -> str:
    """Python source of fresh demo constants (how the ones below were made)."""
    pki = generate_pki(common_name="DocVal Demo CSCA (TEST ONLY)")
    # Rebuild the DSCs with demo names.
    csca = pki.csca
    dsc = Signer(pki.dsc.key, issue_certificate(csca, pki.dsc.key.public_key(), serial=2,
                                                common_name="DocVal Demo DS (TEST ONLY)"))
    rsa_dsc = Signer(pki.dsc_rsa_pss.key, issue_certificate(csca, pki.dsc_rsa_pss.key.public_key(), serial=3,
                                                            common_name="DocVal Demo DS RSA-PSS (TEST ONLY)"))

    def key_pem(k: Any) -> str:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode("ascii")

    parts = []
    for name, value in (("_DEMO_CSCA_KEY", key_pem(csca.key)), ("_DEMO_CSCA_CERT", csca.cert_pem.decode()),
                        ("_DEMO_DSC_KEY", key_pem(dsc.key)), ("_DEMO_DSC_CERT", dsc.cert_pem.decode()),
                        ("_DEMO_DSC_RSA_KEY", key_pem(rsa_dsc.key)),
                        ("_DEMO_DSC_RSA_CERT", rsa_dsc.cert_pem.decode())):
        parts.append(f'{name} = """\\\n{value}"""\n')
    return "\n".join(parts)


# DEMO MATERIAL - PUBLIC TEST KEYS, NOT SECRET, NEVER FOR PRODUCTION.
# Made once with _generate_demo_material(); brainpoolP256r1 CSCA and DSC, RSA-2048 DSC.
_DEMO_CSCA_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGIAgEAMBQGByqGSM49AgEGCSskAwMCCAEBBwRtMGsCAQEEIB9OK3ylcfX8QQ1N
0r5exo6BsXpPnRN/TMtfZo2Uek1ToUQDQgAEYgABLHwfXsxABK7cNCSz7pe9eYWx
fxQLN8nPT5NaBaID2rr0VTQMw1uh0ffHhT9PLJjnu9Zi+JwzcS6l488Eyw==
-----END PRIVATE KEY-----
"""

_DEMO_CSCA_CERT = """\
-----BEGIN CERTIFICATE-----
MIIB6TCCAZCgAwIBAgIBATAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBKMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBE
ZW1vIENTQ0EgKFRFU1QgT05MWSkwWjAUBgcqhkjOPQIBBgkrJAMDAggBAQcDQgAE
YgABLHwfXsxABK7cNCSz7pe9eYWxfxQLN8nPT5NaBaID2rr0VTQMw1uh0ffHhT9P
LJjnu9Zi+JwzcS6l488Ey6NmMGQwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFKCoyCqJlVnAuVwocc+RnzbyxYKbMB8GA1UdIwQY
MBaAFKCoyCqJlVnAuVwocc+RnzbyxYKbMAoGCCqGSM49BAMCA0cAMEQCIFhPTqjr
i+qS4dHQmSxc1FHUMBlWm2KcOB0W4TBdfurfAiAOc1lIMdvw8YcYlcOX2+y9OvXt
QIe2PGe8zTFmh/o34Q==
-----END CERTIFICATE-----
"""

_DEMO_DSC_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGIAgEAMBQGByqGSM49AgEGCSskAwMCCAEBBwRtMGsCAQEEIBDfNpgTlO3u59CX
OQr15Bzlyk4Fo5BHz2XRdD3Y61GZoUQDQgAEbiJfADFpkmWhtIylyX0VLeMw9cdX
o4C7wjzfmKidsvIIg9JZ8FqUDTlvm6l4jYvhYxwPr4hq/FCrE5HGwbeFSA==
-----END PRIVATE KEY-----
"""

_DEMO_DSC_CERT = """\
-----BEGIN CERTIFICATE-----
MIIB1DCCAXqgAwIBAgIBAjAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBIMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xIzAhBgNVBAMMGkRvY1ZhbCBE
ZW1vIERTIChURVNUIE9OTFkpMFowFAYHKoZIzj0CAQYJKyQDAwIIAQEHA0IABG4i
XwAxaZJlobSMpcl9FS3jMPXHV6OAu8I835ionbLyCIPSWfBalA05b5upeI2L4WMc
D6+IavxQqxORxsG3hUijUjBQMB8GA1UdIwQYMBaAFKCoyCqJlVnAuVwocc+Rnzby
xYKbMB0GA1UdDgQWBBTcU+xnPIs5zOY9roaqL4t2ACxhnDAOBgNVHQ8BAf8EBAMC
B4AwCgYIKoZIzj0EAwIDSAAwRQIhAJFz3QmIoU8LhEq8J4Bw1r04ob2kvoOAsQsb
z6WdBiydAiAjBhqnilEZ32ukIrdXkp9AibgxCgZ7iyE/bfzxjPqOYg==
-----END CERTIFICATE-----
"""

_DEMO_DSC_RSA_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD2Un4qUVEJ7eDw
iRn7W8HTFuhMbzKT9N6YJ3aHQtdxBAZWVSZBQpx7e4NmFN5p/ORUdETXzwD4Pa4c
xfpQ1e+TNUaXDrJaZ+lOpbcote2ZL8IxU7UAVMgAAmCSWwX6BW7ZbvV6Hvi2yL59
6LXumGLGwXFrNrC2S/qFfK+LD5tyOJYlETly6am5jbblM6UsJPsxx4uT65vCnwgK
iGzDePKnz8BuxC0n7wkDGhFy0Vsz1smjVq9826u2c+sAlC5bdiDe/Y7/xItqXiTh
5leX7cd2diBUeyZoBZMXjH2YBOVLSUIhHQg/PzhZmqYoPhAOxd0OnAxGm191CzfH
0urs3WsFAgMBAAECggEAOSZzolLimAiqn3RX5GNqKZVPiWhlVkHCoY/KZuChxtV1
uPMhoJOZZecG2hjub63eth+R13ZuVapN6tweU0IHx2Jdge/FfsdMMNSvFdF8EoYr
qrEutih1jNcAXASlcthu2yDs8IweDZ6u39yt1XFivZWlQIhcYLdpJS6ENiIFYW7+
EFgo8e/BWU2m0lFbUZPxX1U/PBlF1mDScRilPkktmvOEtFCex4QW5E8wOQoZutbD
1XXd6L7CXNwvzFoxPwosBi0eOOnhpxF0Kq79OkfVWJEqyjGMazjqfY/pnGNUrSg6
Ma0KGTLgPaBlohRQRUUWsgo7U3DQQE2JbCRzGAIwUQKBgQD/T+DuCZ24gEyRBqJh
QyQ/uZAyI77qIXu1VMcGyFUC43NOMZsNIfg4pOXHeh1c0cjVqRJ5eoKtBqSP6E22
L0g5+FHbDOpZtOtNCtk59I17HQ/z6uFOqJFcFrz3ylxymkyjuncpYUVx3mEQ+jgY
4K7toiJqIjeom8UayuBqdx643QKBgQD2/Gms3W2XuPBVPPBPiVpiiYE5guM/ce9/
F1GVrbimozvzOxe/rUqB3yzYzez+8rOBzw2uax+swr3CcSlB3TYbwqF+W+yT9vBc
LV3pzdGYFEukcFRkbva5WzrmXHqYE2/fR7mDeinvjYGrkEvHUn/1eV9sBRbJiwyF
mHsDPABESQKBgEy8w4yIU2GLHnhQmCnHtnN44MBRQia5Haeo7ZE6UWLm3ldYTZQq
66KK3Y2RRJYLb+PYR3c/vVsoLfobBpCFsZ3K5z+BqEaCPF8Rrazftk6Us6DKriGo
RNh69R09M4A2pGZpuzsyw16wSliB/K5tieZe3x0rX7NL7nhZFg6p8w/5AoGBAOli
itj2Q+DiuPdSpiICQI5sMNgPfn0tRIprloRBrAKKrNOiO0a8kXM3WEFmFVS0Mjuv
U9ZFE6FEQ9vA4qOCTObee4vTgTIwXeA8XknYWv3B79hq7NQaprlwI7AaIx4g/82V
EQ/UGFxs8uMTbwfiRVfIYQrJpEa+Rg7XjyX3RKlBAoGAUsA4eJPH0dzTm0IXu3FQ
Ux1YZk5adMC5YPC2DSnC6e5Xhez2063EnuOwAOUZbkiC5DIKM8e064VX8XmSWZmM
O0o+R3KJOms3NnqAyziQLLcKe0rYGdiU3DTBQR8117ACZUQQDIOrV8g0ewSlXpkN
5NP2p5opPfCxqAuSf3Efn+g=
-----END PRIVATE KEY-----
"""

_DEMO_DSC_RSA_CERT = """\
-----BEGIN CERTIFICATE-----
MIICpTCCAkygAwIBAgIBAzAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBQMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xKzApBgNVBAMMIkRvY1ZhbCBE
ZW1vIERTIFJTQS1QU1MgKFRFU1QgT05MWSkwggEiMA0GCSqGSIb3DQEBAQUAA4IB
DwAwggEKAoIBAQD2Un4qUVEJ7eDwiRn7W8HTFuhMbzKT9N6YJ3aHQtdxBAZWVSZB
Qpx7e4NmFN5p/ORUdETXzwD4Pa4cxfpQ1e+TNUaXDrJaZ+lOpbcote2ZL8IxU7UA
VMgAAmCSWwX6BW7ZbvV6Hvi2yL596LXumGLGwXFrNrC2S/qFfK+LD5tyOJYlETly
6am5jbblM6UsJPsxx4uT65vCnwgKiGzDePKnz8BuxC0n7wkDGhFy0Vsz1smjVq98
26u2c+sAlC5bdiDe/Y7/xItqXiTh5leX7cd2diBUeyZoBZMXjH2YBOVLSUIhHQg/
PzhZmqYoPhAOxd0OnAxGm191CzfH0urs3WsFAgMBAAGjUjBQMB8GA1UdIwQYMBaA
FKCoyCqJlVnAuVwocc+RnzbyxYKbMB0GA1UdDgQWBBSpm4PoZ9imyR31sWoI6c6t
PNhEJzAOBgNVHQ8BAf8EBAMCB4AwCgYIKoZIzj0EAwIDRwAwRAIgLmdptAH6E2XY
zfjBJkWYKac4kvoBxYXRfEaf9iQ3GFMCIDKzRoUu4L/xKGl/qFreHpQfPckQlvnM
z0s7zgi2oTxU
-----END CERTIFICATE-----
"""

