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
        "client": [{"client_id": "alpha"}, {"client_id": "beta", "result_url": "http://x/"}],
    })
    assert c.find_client("beta").result_url == "http://x/"
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
