"""The test PKI's certificates and CRLs: CSCAs, document signers and link certificates
(:class:`Signer` is a key with its certificate), and fresh PKIs for tests.

Part of :mod:`docval.sim.pki`, which re-exports every public name here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes as chashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from docval.emrtd import signatures

DEMO_COUNTRY = "UT"
DEMO_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEMO_NOT_AFTER = datetime(2049, 12, 31, tzinfo=timezone.utc)


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
