"""wss:// end to end: the service on an ssl: endpoint (TLS >= 1.2) and the virtual phone
trusting a test CA."""
from __future__ import annotations

import datetime

import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from docval.config import ClientConfig, Config, ServerConfig, TrustConfig
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json, run_phone
from docval.tap import DocValService


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_pem


@pytest_twisted.ensureDeferred
async def test_phone_over_wss(tmp_path):
    from twisted.internet import reactor

    cert_pem = self_signed(tmp_path)
    listen = f"ssl:0:interface=127.0.0.1:privateKey={tmp_path / 'key.pem'}:certKey={tmp_path / 'cert.pem'}"
    config = Config(server=ServerConfig(listen=(listen,)),
                    trust=TrustConfig(demo_csca=True, reload_interval=0),
                    clients=(ClientConfig(client_id="YOUR CLIENT ID"),))
    service = DocValService(config, reactor)
    service.startService()
    port = service.listeners[0].port.getHost().port
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    try:
        record = await run_phone(f"wss://localhost:{port}/ws1/validate", profile.chip(),
                                 PhoneOptions(access_key=access_key_json(profile.access_key), return_result=True),
                                 reactor=reactor, tls_ca_pem=cert_pem)
    finally:
        await service.stopService()
    assert record.close_code == 1000 and record.result["passive_authentication"] is True
