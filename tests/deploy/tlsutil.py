"""Throw-away certificates for the TLS tests (a root CA, an intermediate, a server leaf)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, ca: bool, san: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@dataclass
class TLSFiles:
    key: Path
    cert: Path
    chain: Path
    root: Path


def make_tls_files(directory: Path) -> TLSFiles:
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("DocVal test root", root_key, "DocVal test root", root_key, ca=True)
    mid = _cert("DocVal test intermediate", mid_key, "DocVal test root", root_key, ca=True)
    leaf = _cert("localhost", leaf_key, "DocVal test intermediate", mid_key, ca=False, san=True)
    pem = serialization.Encoding.PEM
    files = TLSFiles(directory / "key.pem", directory / "cert.pem", directory / "chain.pem",
                     directory / "root.pem")
    files.key.write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    files.cert.write_bytes(leaf.public_bytes(pem))
    files.chain.write_bytes(mid.public_bytes(pem))
    files.root.write_bytes(root.public_bytes(pem))
    return files
