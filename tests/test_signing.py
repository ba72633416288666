"""Signed results for the phone: the JWS, the key file, ``docval-keys``, the configuration,
the session message, ``/jwks.json`` and start-up with a bad key."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
import pytest_twisted
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from twisted.internet import reactor
from twisted.internet.threads import deferToThread

from docval import keys_cli, tap
from docval.admin import admin_site
from docval.config import (
    AdminConfig,
    ClientConfig,
    Config,
    ConfigError,
    ServerConfig,
    SigningConfig,
    TrustConfig,
    parse_config,
)
from docval.metrics import Metrics
from docval.signing import (
    Signer,
    SigningKeyError,
    load_private_key,
    load_signer,
    private_key_pem,
    write_new_key,
)
from tests.support.processes import free_port, run_twistd
from tests.test_admin import Health, get
from tests.ws.harness import POST_CLIENT, RETURN_CLIENT, FakePoster, Harness, start_message

ROOT = Path(__file__).resolve().parents[1]
RESULT = {"passive_authentication": True, "errors": [], "mrz_info": {"primary_identifier": "ÅSTRÖM"}}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def independent_verify(token: str, jwks: dict) -> dict:
    """Checks an ES256 compact JWS with cryptography alone: r||s over header.payload."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256"
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(jwk["x"]), "big"),
        int.from_bytes(b64url_decode(jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header_b64}.{payload_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64url_decode(payload_b64))


def rfc7638(jwk: dict) -> str:
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                         sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def key_path(tmp_path):
    path = tmp_path / "signing-key.pem"
    write_new_key(path)
    return path


# --- the JWS ----------------------------------------------------------------------------

def test_jws_verifies_with_the_jwks_by_library_and_independently(key_path):
    signer = load_signer(key_path)
    token = signer.sign_result(RESULT, "validation-1", "0123456789abcdef", 1_700_000_000)
    jwks = signer.jwks()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == signer.kid
    claims = jwt.decode(token, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["ES256"],
                        options={"require": ["iat"], "verify_iat": False})
    expected = {"emrtd_passport": RESULT, "client_validation_id": "validation-1",
                "session_id": "0123456789abcdef", "iat": 1_700_000_000}
    assert claims == expected
    assert independent_verify(token, jwks) == expected
    assert type(claims["iat"]) is int


def test_tampered_or_foreign_jws_fails_both_checks(key_path, tmp_path):
    signer = load_signer(key_path)
    token = signer.sign_result(RESULT, "validation-1", "sid", 1_700_000_000)
    header_b64, payload_b64, signature_b64 = token.split(".")
    forged_claims = {"emrtd_passport": dict(RESULT, passive_authentication=False),
                     "client_validation_id": "validation-1", "session_id": "sid", "iat": 1_700_000_000}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    forged = f"{header_b64}.{forged_payload}.{signature_b64}"
    key = jwt.PyJWK(signer.jwks()["keys"][0]).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key, algorithms=["ES256"])
    with pytest.raises(InvalidSignature):
        independent_verify(forged, signer.jwks())
    other = write_new_key(tmp_path / "other.pem")
    foreign = other.sign_result(RESULT, "validation-1", "sid", 1_700_000_000)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(foreign, key, algorithms=["ES256"])
    assert other.kid != signer.kid


def test_jwks_is_public_only_and_kid_is_the_rfc7638_thumbprint(key_path):
    signer = load_signer(key_path)
    (jwk,) = signer.jwks()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert jwk["kid"] == rfc7638(jwk) == signer.kid
    public = load_private_key(key_path).public_key().public_numbers()
    assert int.from_bytes(b64url_decode(jwk["x"]), "big") == public.x
    assert int.from_bytes(b64url_decode(jwk["y"]), "big") == public.y
    assert '"d"' not in json.dumps(signer.jwks())   # no private member
    assert "kid" in repr(signer) and str(load_private_key(key_path).private_numbers().private_value) not in repr(signer)


# --- the key file -------------------------------------------------------------------------

def test_generated_key_is_0600_pkcs8_and_never_overwritten(tmp_path):
    path = tmp_path / "k.pem"
    write_new_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    assert before.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(SigningKeyError, match="already exists"):
        write_new_key(path)
    assert path.read_bytes() == before


def test_traditional_pem_is_accepted(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "trad.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    path.chmod(0o640)
    assert path.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert load_signer(path).kid == Signer(key).kid


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("case, message", [
    ("missing", "cannot read"),
    ("garbage", "not a PEM private key"),
    ("rsa", "not an EC P-256"),
    ("p384", "not an EC P-256"),
    ("encrypted", "encrypted"),
    ("world-readable", "other users"),
    ("directory", "not a regular file|cannot read"),
])
def test_unusable_keys_are_refused_naming_the_file(tmp_path, case, message):
    path = tmp_path / f"{case}.pem"
    p256 = ec.generate_private_key(ec.SECP256R1())
    if case == "garbage":
        _write(path, b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    elif case == "rsa":
        _write(path, private_key_pem(rsa.generate_private_key(65537, 2048)))
    elif case == "p384":
        _write(path, private_key_pem(ec.generate_private_key(ec.SECP384R1())))
    elif case == "encrypted":
        _write(path, p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.BestAvailableEncryption(b"pw")))
    elif case == "world-readable":
        _write(path, private_key_pem(p256), 0o644)
    elif case == "directory":
        path.mkdir()
    with pytest.raises(SigningKeyError, match=message) as info:
        load_signer(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text
    assert "BEGIN" not in text and "not base64" not in text


# --- docval-keys ------------------------------------------------------------------------------

def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = keys_cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_keys_generate_then_jwks(tmp_path):
    path = tmp_path / "sub-key.pem"
    code, out, err = run_cli("generate", "--out", str(path))
    assert code == 0 and err == ""
    kid = load_signer(path).kid
    assert kid in out and stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, _ = run_cli("jwks", "--key", str(path))
    assert code == 0 and json.loads(out) == load_signer(path).jwks()
    code, _, err = run_cli("generate", "--out", str(path))
    assert code == 1 and "already exists" in err and err.count("\n") == 1


def test_keys_jwks_from_config_and_several_keys(tmp_path):
    a, b = write_new_key(tmp_path / "a.pem"), write_new_key(tmp_path / "b.pem")
    config = tmp_path / "docval.toml"
    config.write_text('[trust]\ndemo_csca = true\n[signing]\nkey_file = "a.pem"\n'
                      '[[client]]\nclient_id = "c"\nsign_returned_result = true\n')
    code, out, _ = run_cli("jwks", "--config", str(config))
    assert code == 0 and json.loads(out) == a.jwks()
    code, out, _ = run_cli("jwks", "--key", str(tmp_path / "a.pem"), "--key", str(tmp_path / "b.pem"))
    assert [k["kid"] for k in json.loads(out)["keys"]] == [a.kid, b.kid]
    config.write_text('[trust]\ndemo_csca = true\n[[client]]\nclient_id = "c"\n')
    code, _, err = run_cli("jwks", "--config", str(config))
    assert code == 1 and "[signing] key_file is not set" in err
    code, _, err = run_cli("jwks", "--key", str(tmp_path / "none.pem"))
    assert code == 1 and "none.pem: cannot read" in err


def test_keys_version_and_console_script(tmp_path):
    with pytest.raises(SystemExit) as info:
        keys_cli.build_parser().parse_args(["--version"])
    assert info.value.code == 0
    proc = subprocess.run([sys.executable, "-m", "docval.keys_cli", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    import docval
    assert proc.returncode == 0 and proc.stdout.strip() == f"docval-keys {docval.__version__}"
    setup = (ROOT / "setup.py").read_text()
    assert '"docval-keys = docval.keys_cli:main"' in setup


# --- configuration ------------------------------------------------------------------------

BASE = {"trust": {"demo_csca": True}}


def test_config_signing_key_and_client_flag(tmp_path):
    config = parse_config({**BASE, "signing": {"key_file": "keys/k.pem"},
                           "client": [{"client_id": "a", "sign_returned_result": True},
                                      {"client_id": "b"}]}, base_dir=tmp_path)
    assert config.signing.key_file == tmp_path / "keys" / "k.pem"
    assert [c.sign_returned_result for c in config.clients] == [True, False]
    assert parse_config({**BASE, "client": [{"client_id": "a"}]}).signing == SigningConfig()


@pytest.mark.parametrize("data, message", [
    ({"client": [{"client_id": "a"}, {"client_id": "b", "sign_returned_result": True}]},
     r"\[\[client\]\] #2 sign_returned_result: needs \[signing\] key_file"),
    ({"client": [{"client_id": "a", "sign_returned_result": "yes"}], "signing": {"key_file": "k"}},
     r"\[\[client\]\] #1 sign_returned_result: must be true or false"),
    ({"client": [{"client_id": "a"}], "signing": {"key_file": 3}}, r"\[signing\] key_file: must be a path"),
    ({"client": [{"client_id": "a"}], "signing": {"key_file": ""}}, r"\[signing\] key_file: must be a path"),
    ({"client": [{"client_id": "a"}], "signing": {"key": "k"}}, r"\[signing\] unknown key 'key'"),
])
def test_config_errors_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, **data})


def test_shipped_config_documents_signing():
    import tomllib

    from docval.config import parse_config

    text = (ROOT / "etc" / "docval.toml").read_text()
    # The shipped file enables no client (the server refuses to start until one is added).
    data = tomllib.loads(text + '\n[[client]]\nclient_id = "a-long-random-secret"\nresult_url = "https://r.example/x"\n')
    config = parse_config(data, base_dir=ROOT / "etc")
    assert config.signing.key_file == Path("/etc/docval/signing-key.pem")
    assert "sign_returned_result" in text and "docval-keys" in text


# --- the session ----------------------------------------------------------------------------

RR = "/ws1/validate?return_result=true"


def signing_harness(key_path, **client_changes):
    config = Harness().config
    clients = tuple(replace(c, sign_returned_result=True) if c.client_id in client_changes.get("sign", ())
                    else c for c in config.clients)
    config = replace(config, clients=clients, signing=SigningConfig(key_file=key_path))
    return Harness(config=config, signer=load_signer(key_path),
                   poster=client_changes.get("poster"))


def result_messages(conn):
    return [t for t in conn.texts if "emrtd_passport" in t]


def test_signing_client_gets_the_jws_beside_the_unsigned_result(key_path):
    h = signing_harness(key_path, sign=(RETURN_CLIENT,))
    h.clock.advance(1_700_000_123.6)
    c = h.raw(start_message(), path=RR)
    h.run(c)
    session_id = c.server.session_id
    (message,) = result_messages(c)
    assert set(message) == {"emrtd_passport", "emrtd_passport_jws"}
    signer = load_signer(key_path)
    claims = independent_verify(message["emrtd_passport_jws"], signer.jwks())
    assert claims == {"emrtd_passport": message["emrtd_passport"],
                      "client_validation_id": start_message()["validation_id"],
                      "session_id": session_id, "iat": 1_700_000_123}
    assert len(session_id) == 16
    kinds = [next(iter(t)) for t in c.texts[-3:]]
    assert kinds == ["status", "emrtd_passport", "close_code"] and c.texts[-3] == {"status": "DONE"}
    assert c.closed[1] == 1000
    h.assert_clean()


def test_other_clients_get_no_jws_and_posting_clients_sign_too(key_path):
    from docval.poster import PostOutcome

    poster = FakePoster(outcome=lambda: PostOutcome(1, 200))
    h = signing_harness(key_path, sign=(POST_CLIENT,), poster=poster)
    c = h.raw(start_message(), path=RR)
    h.run(c)
    (message,) = result_messages(c)
    assert set(message) == {"emrtd_passport"}
    c = h.raw(start_message(client_id=POST_CLIENT), path=RR)
    h.run(c)
    (message,) = result_messages(c)
    claims = independent_verify(message["emrtd_passport_jws"], load_signer(key_path).jwks())
    assert claims["emrtd_passport"] == poster.posts[0][1] == message["emrtd_passport"]
    # Without return_result nothing goes to the phone, so nothing is signed.
    c = h.raw(start_message(client_id=POST_CLIENT))
    h.run(c)
    assert result_messages(c) == [] and c.statuses[-1] == "DONE"
    h.assert_clean()


@pytest.mark.parametrize("client_id", [RETURN_CLIENT, POST_CLIENT])
def test_a_result_that_cannot_be_signed_fails_before_done_and_before_posting(client_id):
    config = Harness().config
    clients = tuple(replace(c, sign_returned_result=True) for c in config.clients)
    poster = FakePoster()
    h = Harness(config=replace(config, clients=clients), poster=poster)   # no signer
    c = h.raw(start_message(client_id=client_id), path=RR)
    h.run(c)
    assert "DONE" not in c.statuses and result_messages(c) == []
    assert c.texts[-1] == {"close_code": 1011, "close_reason": "SERVER_ERROR"}
    # The Result Server never gets a result the phone is then told failed.
    assert poster.posts == []
    h.assert_clean()


# --- /jwks.json -------------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_admin_serves_the_public_jwks(key_path):
    signer = load_signer(key_path)
    jwks = signer.jwks()
    jwks["keys"][0]["d"] = "must-not-be-served"     # even a JWKS with a private member
    port = reactor.listenTCP(0, admin_site(Metrics(), Health(), jwks), interface="127.0.0.1")
    bare = reactor.listenTCP(0, admin_site(Metrics(), Health()), interface="127.0.0.1")
    try:
        status, headers, body = yield deferToThread(get, port.getHost().port, "/jwks.json")
        assert status == 200 and headers["content-type"] == "application/jwk-set+json"
        assert json.loads(body) == signer.jwks() and b"must-not" not in body
        status, _, body = yield deferToThread(get, port.getHost().port, "/jwks.json", "HEAD")
        assert status == 200 and body == b""
        status, _, _ = yield deferToThread(get, port.getHost().port, "/jwks.json", "POST")
        assert status == 405
        status, _, _ = yield deferToThread(get, bare.getHost().port, "/jwks.json")
        assert status == 404
    finally:
        yield port.stopListening()
        yield bare.stopListening()


# --- start-up ----------------------------------------------------------------------------------

def service_config(key_file, sign=True) -> Config:
    return Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
        trust=TrustConfig(demo_csca=True),
        admin=AdminConfig(listen=("tcp:0:interface=127.0.0.1",)),
        clients=(ClientConfig(client_id="a", sign_returned_result=sign),),
        signing=SigningConfig(key_file=key_file),
    )


def test_service_loads_the_key_for_sessions_and_admin(key_path):
    svc = tap.DocValService(service_config(key_path))
    assert svc.signer.kid == load_signer(key_path).kid
    assert svc.factory.sign_result({"x": 1}, "v", "s").count(".") == 2
    assert tap.DocValService(service_config(None, sign=False)).signer is None


@pytest.mark.parametrize("make", ["missing", "bad"])
def test_service_refuses_an_unusable_key_in_one_line(tmp_path, make):
    path = tmp_path / "k.pem"
    if make == "bad":
        _write(path, private_key_pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(SystemExit) as info:
        tap.DocValService(service_config(path))
    text = str(info.value.code)
    assert text.startswith("docval: [signing] key_file: ") and str(path) in text and "\n" not in text


def test_unusable_key_is_a_warning_when_no_client_signs(tmp_path):
    from twisted.logger import LogLevel, globalLogPublisher

    path = tmp_path / "absent.pem"
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        svc = tap.DocValService(service_config(path, sign=False))
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert svc.signer is None
    warnings = [e for e in events if "[signing] key_file" in e.get("log_format", "")]
    assert len(warnings) == 1 and warnings[0]["log_level"] == LogLevel.warn
    assert str(path) in warnings[0]["problem"]


def test_twistd_exits_with_one_line_for_a_bad_key(tmp_path):
    config = tmp_path / "docval.toml"
    config.write_text(f'[server]\nlisten = "tcp:{free_port()}:interface=127.0.0.1"\n[trust]\ndemo_csca = true\n'
                      f'[signing]\nkey_file = "absent.pem"\n'
                      '[[client]]\nclient_id = "c"\nsign_returned_result = true\n')
    proc = run_twistd(tmp_path, "--config", str(config))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"docval: [signing] key_file: {tmp_path / 'absent.pem'}: cannot read" in output
    assert "Traceback" not in output


def test_keys_jwks_works_on_a_fresh_install_without_clients(tmp_path):
    # The shipped configuration enables no client; the server refuses it, docval-keys must not.
    key = write_new_key(tmp_path / "k.pem")
    config = tmp_path / "docval.toml"
    config.write_text('[trust]\ncsca = ["/nonexistent"]\n[signing]\nkey_file = "k.pem"\n')
    code, out, err = run_cli("jwks", "--config", str(config))
    assert code == 0, err
    assert json.loads(out) == key.jwks()
    config.write_text('[signing]\nkey_file = 3\n')
    code, _, err = run_cli("jwks", "--config", str(config))
    assert code == 1 and "[signing] key_file" in err
