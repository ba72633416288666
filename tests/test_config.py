"""Configuration: the documented keys, defaults, and an error naming every bad key."""
from __future__ import annotations

from pathlib import Path

import pytest

from docval.config import (
    DEMO_CLIENT_ID,
    ConfigError,
    default_config,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[1]

ISSUE_EXAMPLE = """
[server]
listen = "tcp:8080:interface=127.0.0.1"
[timeouts]
start_message = 10
apdu_response = 15
max_session = 90
[trust]
csca = ["/etc/docval/csca"]
crl = []
[[client]]
client_id = "YOUR CLIENT ID"
result_url = "https://results.example.com/docval"
files_binary = false
"""


def write(tmp_path, text):
    p = tmp_path / "docval.toml"
    p.write_text(text)
    return p


def test_the_issue_example_loads(tmp_path):
    c = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert c.server.listen == ("tcp:8080:interface=127.0.0.1",)
    assert (c.timeouts.start_message, c.timeouts.apdu_response, c.timeouts.max_session) == (10, 15, 90)
    assert c.trust.csca == (Path("/etc/docval/csca"),) and c.trust.crl == ()
    (client,) = c.clients
    assert client.client_id == "YOUR CLIENT ID"
    assert client.result_url == "https://results.example.com/docval"
    assert client.files_binary is False
    assert c.admin.listen == ()


def test_the_shipped_example_enables_no_client_and_loads_with_one(tmp_path):
    shipped = (ROOT / "etc" / "docval.toml").read_text()
    with pytest.raises(ConfigError, match=r"no client is configured: add a \[\[client\]\] section"):
        load_config(ROOT / "etc" / "docval.toml")
    (tmp_path / "csca").mkdir()
    edited = shipped.replace('"/etc/docval/csca"', '"csca"') + '\n[[client]]\nclient_id = "a secret"\n'
    c = load_config(write(tmp_path, edited))
    assert c.clients[0].client_id == "a secret" and c.server.listen


def test_listen_list_and_extras(tmp_path):
    text = ISSUE_EXAMPLE.replace(
        'listen = "tcp:8080:interface=127.0.0.1"',
        'listen = ["tcp:8080:interface=127.0.0.1", "ssl:8443:privateKey=k.pem:interface=127.0.0.1"]\nmax_connections = 50',
    ) + '\n[admin]\nlisten = "tcp:9100:interface=127.0.0.1"\n'
    text = text.replace("crl = []", 'crl = ["crl"]\nreload_interval = 600\ndemo_csca = true')
    c = load_config(write(tmp_path, text))
    assert c.server.listen == ("tcp:8080:interface=127.0.0.1", "ssl:8443:privateKey=k.pem:interface=127.0.0.1")
    assert c.server.max_connections == 50
    assert c.admin.listen == ("tcp:9100:interface=127.0.0.1",)
    assert c.trust.crl == (tmp_path.resolve() / "crl",)      # relative to the config file
    assert c.trust.reload_interval == 600 and c.trust.demo_csca is True


def test_client_without_result_url(tmp_path):
    c = load_config(write(tmp_path, ISSUE_EXAMPLE.replace(
        'result_url = "https://results.example.com/docval"\n', "")))
    assert c.clients[0].result_url is None and c.clients[0].returns_only


def test_defaults_are_the_demo():
    c = default_config()
    assert c.server.listen == ("tcp:8080:interface=127.0.0.1",)
    assert [x.client_id for x in c.clients] == [DEMO_CLIENT_ID]
    assert c.clients[0].result_url is None
    assert c.trust.demo_csca is True


def test_client_lookup():
    c = parse_config({
        "trust": {"demo_csca": True},
        "client": [{"client_id": "alpha"}, {"client_id": "beta", "result_url": "https://x/"}],
    })
    assert c.find_client("beta").result_url == "https://x/"
    assert c.find_client("alpha").result_url is None
    assert c.find_client("alph") is None and c.find_client("") is None
    assert c.find_client("\ud800") is None            # lone surrogate from JSON
    assert "beta" not in repr(c.find_client("beta"))  # ids are secrets


BASE = {"trust": {"csca": ["/x"]}, "client": [{"client_id": "a"}]}


def merged(**sections):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    data.update(sections)
    return data


@pytest.mark.parametrize(
    "data, key",
    [
        (merged(sever={}), "sever"),
        (merged(server={"listen": 8080}), "[server] listen"),
        (merged(server={"listen": "127.0.0.1:8080"}), "[server] listen"),
        (merged(server={"listen": []}), "[server] listen"),
        (merged(server={"port": 1}), "port"),
        (merged(server={"max_connections": 0}), "max_connections"),
        (merged(server={"max_connections": True}), "max_connections"),
        (merged(timeouts={"start_message": 0}), "[timeouts] start_message"),
        (merged(timeouts={"apdu_response": "15"}), "[timeouts] apdu_response"),
        (merged(timeouts={"max_session": -1}), "[timeouts] max_session"),
        (merged(timeouts={"max_session": float("inf")}), "[timeouts] max_session"),
        (merged(timeouts={"max_session": True}), "[timeouts] max_session"),
        (merged(timeouts={"start": 1}), "start"),
        (merged(trust={"csca": []}), "[trust] csca"),
        (merged(trust={"csca": 5}), "[trust] csca"),
        (merged(trust={"csca": ["/x"], "crl": [1]}), "[trust] crl"),
        (merged(trust={"csca": ["/x"], "demo_csca": "yes"}), "demo_csca"),
        (merged(trust={"csca": ["/x"], "reload_interval": -1}), "reload_interval"),
        (merged(trust={"csca": ["/x"], "cert": 1}), "cert"),
        (merged(trust="x"), "[trust]"),
        (merged(admin={"listen": 9100}), "[admin] listen"),
        (merged(admin={"port": 9100}), "port"),
        ({"trust": {"csca": ["/x"]}}, "[[client]]"),
        (merged(client=[]), "[[client]]"),
        (merged(client={"client_id": "a"}), "[[client]]"),
        (merged(client=[{}]), "client_id"),
        (merged(client=[{"client_id": ""}]), "client_id"),
        (merged(client=[{"client_id": 5}]), "client_id"),
        (merged(client=[{"client_id": "a\nb"}]), "client_id"),
        (merged(client=[{"client_id": "a"}, {"client_id": "a"}]), "client_id"),
        (merged(client=[{"client_id": "a", "result_url": "ftp://x/"}]), "result_url"),
        (merged(client=[{"client_id": "a", "result_url": "https:///nohost"}]), "result_url"),
        (merged(client=[{"client_id": "a", "result_url": "http://x:99999/"}]), "result_url"),
        (merged(client=[{"client_id": "a", "result_url": "https://x:99999/"}]), "result_url"),
        (merged(client=[{"client_id": "a", "name": ""}]), "name"),
        (merged(client=[{"client_id": "a", "name": "has space"}]), "name"),
        (merged(client=[{"client_id": "a", "name": "-lead"}]), "name"),
        (merged(client=[{"client_id": "a", "name": "x" * 65}]), "name"),
        (merged(client=[{"client_id": "a", "name": 5}]), "name"),
        (merged(client=[{"client_id": "a", "name": "n"}, {"client_id": "b", "name": "n"}]), "name"),
        (merged(client=[{"client_id": "a", "allow_insecure_result_url": "yes",
                         "result_url": "http://x/"}]), "allow_insecure_result_url"),
        (merged(client=[{"client_id": "a", "result_signing_secret_file": "/s"}]),
         "result_signing_secret_file"),
        (merged(client=[{"client_id": "a", "result_url": "https://x/", "result_ca_file": 5}]),
         "result_ca_file"),
        (merged(client=[{"client_id": "a", "result_url": 1}]), "result_url"),
        (merged(client=[{"client_id": "a", "files_binary": 1}]), "files_binary"),
        (merged(client=[{"client_id": "a", "result": "x"}]), "result"),
    ],
)
def test_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert key in str(info.value)


def test_duplicate_client_error_does_not_repeat_the_secret():
    with pytest.raises(ConfigError) as info:
        parse_config(merged(client=[{"client_id": "s3cret-id"}, {"client_id": "s3cret-id"}]))
    assert "s3cret-id" not in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\n"))
    with pytest.raises(ConfigError, match=r"docval.toml: \[timeouts\] start_message"):
        load_config(write(tmp_path, ISSUE_EXAMPLE.replace("start_message = 10", "start_message = 'x'")))


# --- [limits]: the file caps that bound what a session reads and delivers ---------------------

def test_limits_default_to_the_ldss_largest_file(tmp_path):
    c = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert (c.limits.max_file_bytes, c.limits.max_commands_per_file) == (65535, 1000)
    assert default_config().limits == c.limits


def test_limits_are_read(tmp_path):
    c = load_config(write(tmp_path, ISSUE_EXAMPLE + "[limits]\nmax_file_bytes = 32768\n"
                                                    "max_commands_per_file = 2000\n"))
    assert (c.limits.max_file_bytes, c.limits.max_commands_per_file) == (32768, 2000)


@pytest.mark.parametrize(
    "limits, key",
    [
        ({"max_file_bytes": 65536}, "[limits] max_file_bytes"),     # no LDS file is larger
        ({"max_file_bytes": 4095}, "[limits] max_file_bytes"),
        ({"max_file_bytes": "64k"}, "[limits] max_file_bytes"),
        ({"max_file_bytes": 32768.0}, "[limits] max_file_bytes"),
        ({"max_file_bytes": True}, "[limits] max_file_bytes"),
        ({"max_commands_per_file": 63}, "[limits] max_commands_per_file"),
        ({"max_commands_per_file": 100_001}, "[limits] max_commands_per_file"),
        ({"max_commands_per_file": None}, "[limits] max_commands_per_file"),
        ({"max_result_bytes": 1}, "max_result_bytes"),
        ("64k", "[limits]"),
    ],
)
def test_limits_errors_name_the_key(limits, key):
    with pytest.raises(ConfigError) as info:
        parse_config(merged(limits=limits))
    assert key in str(info.value)


def test_limits_bounds_match_what_the_reader_accepts():
    from docval.emrtd.files import FileCaps
    for limits in ({"max_file_bytes": 4096, "max_commands_per_file": 64},
                   {"max_file_bytes": 65535, "max_commands_per_file": 100_000}):
        c = parse_config(merged(limits=limits))
        FileCaps(c.limits.max_file_bytes, c.limits.max_commands_per_file)   # no ValueError


# --- [[client]]: name, result_url rules, authentication and TLS files (issue 14) -----------

from docval.config import ClientConfig, default_name  # noqa: E402
from tests import certs  # noqa: E402


def client_error(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[trust]\ndemo_csca = true\n" + text))
    return str(info.value)


def one_client(tmp_path, text):
    return load_config(write(tmp_path, "[trust]\ndemo_csca = true\n" + text)).clients[0]


SECRET_ID = "Sup3r-Secret-Client-Id"


def test_name_defaults_to_a_short_hash_never_the_id(tmp_path):
    c = one_client(tmp_path, f'[[client]]\nclient_id = "{SECRET_ID}"\n')
    assert c.name == default_name(SECRET_ID) and SECRET_ID not in c.name
    assert c.name.startswith("client-") and len(c.name) == len("client-") + 8
    assert default_name("other") != c.name
    assert ClientConfig(client_id=SECRET_ID).name == c.name
    assert one_client(tmp_path, f'[[client]]\nclient_id = "{SECRET_ID}"\nname = "acme-prod.1"\n').name == "acme-prod.1"


def test_name_must_not_be_the_client_id(tmp_path):
    msg = client_error(tmp_path, '[[client]]\nclient_id = "samesame"\nname = "samesame"\n')
    assert "name" in msg and "[[client]] #1" in msg
    assert "samesame" not in msg


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/r", "http://127.9.9.9/r", "http://[::1]:81/r", "http://localhost/r",
    "http://LOCALHOST:1/r", "https://results.example/r",
])
def test_http_allowed_to_loopback(tmp_path, url):
    assert one_client(tmp_path, f'[[client]]\nclient_id = "{SECRET_ID}"\nresult_url = "{url}"\n').result_url == url


@pytest.mark.parametrize("url", [
    "http://results.example/r", "http://10.0.0.1/r", "http://128.0.0.1/r", "http://[::2]/r",
    "http://localhost.evil.example/r",
])
def test_http_refused_elsewhere_unless_allowed(tmp_path, url):
    base = f'[[client]]\nclient_id = "{SECRET_ID}"\nname = "acme"\nresult_url = "{url}?token=QTOKEN"\n'
    msg = client_error(tmp_path, base)
    assert "result_url" in msg and '"acme"' in msg and "allow_insecure_result_url" in msg
    assert SECRET_ID not in msg and "QTOKEN" not in msg
    c = one_client(tmp_path, base + "allow_insecure_result_url = true\n")
    assert c.result_url.startswith(url)


@pytest.mark.parametrize("url", [
    "https://user:pass@results.example/r", "https://user@results.example/r", "http://u:p@127.0.0.1/r",
])
def test_credentials_in_the_url_are_refused(tmp_path, url):
    msg = client_error(tmp_path, f'[[client]]\nclient_id = "{SECRET_ID}"\nresult_url = "{url}"\n')
    assert "result_url" in msg and "[[client]] #1" in msg and "pass" not in msg.split(":", 1)[1].replace(
        "password", "")
    assert SECRET_ID not in msg


def test_error_names_the_client_by_number_without_a_name(tmp_path):
    msg = client_error(tmp_path, '[[client]]\nclient_id = "a"\n[[client]]\nclient_id = "b"\n'
                                 'result_url = "http://results.example/"\n')
    assert msg.split(": ", 1)[1].startswith("[[client]] #2 result_url")


# The secret files --------------------------------------------------------------------------

def client_with(tmp_path, **files):
    lines = ['[[client]]', f'client_id = "{SECRET_ID}"', 'name = "acme"',
             'result_url = "https://results.example/r"']
    lines += [f'{key} = "{value}"' for key, value in files.items()]
    return "\n".join(lines) + "\n"


def test_signing_secrets_one_per_line(tmp_path):
    path = certs.write_private(tmp_path / "secrets",
                               b"current-s\xc3\xa9cret\r\n\n  \n old secret with spaces \nthird\n\n")
    c = one_client(tmp_path, client_with(tmp_path, result_signing_secret_file=path))
    assert c.result_signing_secrets == (b"current-s\xc3\xa9cret", b" old secret with spaces ", b"third")
    assert "current" not in repr(c)


def test_signing_secret_file_relative_to_the_config(tmp_path):
    certs.write_private(tmp_path / "s", b"k")
    c = one_client(tmp_path, client_with(tmp_path, result_signing_secret_file="s"))
    assert c.result_signing_secrets == (b"k",)


@pytest.mark.parametrize("content, mode, words", [
    (b"secret\n", 0o604, "other users"),
    (b"secret\n", 0o644, "other users"),
    (b"secret\n", 0o602, "other users"),
    (b"\n\n  \n", 0o600, "no secret"),
    (b"", 0o600, "no secret"),
    (b"\xff\xfe\n", 0o600, "UTF-8"),
    (None, 0o600, "cannot read"),
])
def test_signing_secret_file_errors(tmp_path, content, mode, words):
    path = tmp_path / "secrets"
    if content is not None:
        certs.write_private(path, content, mode)
    msg = client_error(tmp_path, client_with(tmp_path, result_signing_secret_file=path))
    assert "result_signing_secret_file" in msg and '"acme"' in msg and words in msg
    assert SECRET_ID not in msg and "secret\n" not in msg


def test_group_readable_secret_file_is_accepted(tmp_path):
    path = certs.write_private(tmp_path / "secrets", b"s\n", 0o640)
    assert one_client(tmp_path, client_with(tmp_path, result_signing_secret_file=path)).result_signing_secrets == (b"s",)


def test_bearer_token(tmp_path):
    path = certs.write_private(tmp_path / "token", b"abc.DEF-123_~+/=\n")
    c = one_client(tmp_path, client_with(tmp_path, result_bearer_token_file=path))
    assert c.result_bearer_token == "abc.DEF-123_~+/="
    assert "abc.DEF" not in repr(c)
    certs.write_private(path, b"crlf\r\n")
    assert one_client(tmp_path, client_with(tmp_path, result_bearer_token_file=path)).result_bearer_token == "crlf"


@pytest.mark.parametrize("content, mode, words", [
    (b"", 0o600, "empty"),
    (b"\n", 0o600, "empty"),
    (b"two words\n", 0o600, "visible ASCII"),
    (b"a\nb\n", 0o600, "visible ASCII"),
    (b"tok\n", 0o644, "other users"),
])
def test_bearer_token_errors(tmp_path, content, mode, words):
    path = certs.write_private(tmp_path / "token", content, mode)
    msg = client_error(tmp_path, client_with(tmp_path, result_bearer_token_file=path))
    assert "result_bearer_token_file" in msg and '"acme"' in msg and words in msg


# TLS files ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    ca, ca2 = certs.make_ca("A"), certs.make_ca("B")
    return {"ca": ca, "ca2": ca2, "client": certs.issue(ca, "docval", client=True),
            "other": certs.issue(ca, "other", client=True)}


def test_ca_bundle_and_client_certificate(tmp_path, pki):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pki["ca"].cert_pem + b"\n# comment\n" + pki["ca2"].cert_pem)
    cert = tmp_path / "client.pem"
    cert.write_bytes(pki["client"].cert_pem + pki["ca"].cert_pem)
    for traditional in (False, True):
        key = certs.write_private(tmp_path / "client.key", pki["client"].key_pem(traditional))
        c = one_client(tmp_path, client_with(tmp_path, result_ca_file=bundle, result_client_certificate_file=cert,
                                             result_client_key_file=key))
        tls = c.result_tls
        assert tls.ca_pems == (pki["ca"].cert_pem, pki["ca2"].cert_pem)
        assert tls.client_certificate_pem == pki["client"].cert_pem
        assert tls.client_chain_pems == (pki["ca"].cert_pem,)
        assert tls.client_key_pem == pki["client"].key_pem(traditional)
        assert b"PRIVATE" not in repr(c).encode()


def test_tls_file_errors(tmp_path, pki):
    cert = tmp_path / "client.pem"
    cert.write_bytes(pki["client"].cert_pem)
    key = certs.write_private(tmp_path / "client.key", pki["client"].key_pem())
    other_key = certs.write_private(tmp_path / "other.key", pki["other"].key_pem())
    loose_key = certs.write_private(tmp_path / "loose.key", pki["client"].key_pem(), 0o644)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    broken = tmp_path / "broken.pem"
    broken.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    from cryptography.hazmat.primitives import serialization
    encrypted = certs.write_private(tmp_path / "enc.key", pki["client"].key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")))
    cases = [
        ({"result_client_certificate_file": cert}, "result_client_key_file"),
        ({"result_client_key_file": key}, "result_client_certificate_file"),
        ({"result_ca_file": junk}, "result_ca_file"),
        ({"result_ca_file": broken}, "result_ca_file"),
        ({"result_ca_file": tmp_path / "missing.pem"}, "result_ca_file"),
        ({"result_client_certificate_file": junk, "result_client_key_file": key}, "result_client_certificate_file"),
        ({"result_client_certificate_file": cert, "result_client_key_file": junk}, "result_client_key_file"),
        ({"result_client_certificate_file": cert, "result_client_key_file": other_key}, "result_client_key_file"),
        ({"result_client_certificate_file": cert, "result_client_key_file": loose_key}, "result_client_key_file"),
        ({"result_client_certificate_file": cert, "result_client_key_file": encrypted}, "result_client_key_file"),
    ]
    for files, key_name in cases:
        msg = client_error(tmp_path, client_with(tmp_path, **files))
        assert key_name in msg and '"acme"' in msg, (files, msg)
        assert SECRET_ID not in msg and "PRIVATE KEY" not in msg


def test_tls_keys_need_https_and_delivery_keys_need_a_result_url(tmp_path, pki):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki["ca"].cert_pem)
    msg = client_error(tmp_path, client_with(tmp_path, result_ca_file=ca).replace(
        "https://results.example/r", "http://127.0.0.1/r"))
    assert "result_ca_file" in msg and "https://" in msg
    msg = client_error(tmp_path, f'[[client]]\nclient_id = "{SECRET_ID}"\nresult_bearer_token_file = "/t"\n')
    assert "result_bearer_token_file" in msg and "result_url" in msg


def test_the_shipped_example_documents_every_client_key():
    from docval.clients import _CLIENT_KEYS

    text = (ROOT / "etc" / "docval.toml").read_text()
    for key in _CLIENT_KEYS:
        assert f"# {key} =" in text or f"\n{key} =" in text, key
