"""docval-sim as a command: --version, every default in --help, an exit status that is 0
only for a result verified as the profile expects, wrong keys with --can / --mrz, and one
line (exit 2) for an unreadable --ca-cert or a TLS handshake that fails."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from docval import __version__
from docval.sim import cli, cli_run, profiles
from tests.support.processes import Twistd, free_port, run_sim_cli

sim = run_sim_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """DocVal on its demo defaults (loopback, the demo client and CSCA) on a free port."""
    port = free_port()
    with Twistd(tmp_path_factory.mktemp("server"), "--listen", f"tcp:{port}:interface=127.0.0.1"):
        yield f"ws://127.0.0.1:{port}/ws1/validate", port


def test_version():
    r = sim("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"docval-sim (DocVal) {__version__}"


def test_help_documents_every_default_and_the_exit_status():
    raw = cli.build_parser().format_help()
    text = " ".join(raw.split())
    for default in ("(default: ws://127.0.0.1:8080/ws1/validate)", "(default: YOUR CLIENT ID)",
                    "(default: docval-sim)", "(default: 0.0)", "(default: a random UUID)",
                    "(default: off)", "(default: the document's own)", "(default: the system's CAs)",
                    "(default: not sent", "the default)"):
        assert default in text, default
    assert "exit status:" in raw and "\n  0  the server closed with 1000 and returned a result" in raw


def test_a_verified_result_exits_0(server):
    url, _ = server
    r = sim("--url", url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict    verified, as the profile expects" in r.stdout


def test_a_profile_expecting_a_failed_check_exits_0_when_the_server_reports_it(server):
    url, _ = server
    r = sim("--url", url, "--profile", "untrusted")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passive authentication  false" in r.stdout


@pytest.mark.parametrize("key", [["--can", "000000"], ["--mrz", "X1234567,850312,340630"]])
def test_a_wrong_key_exits_1(server, key):
    url, _ = server
    r = sim("--url", url, *key)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "4403 ACCESS_CONTROL_FAILED" in r.stdout and "verdict    FAILED" in r.stdout


def test_a_right_key_given_by_hand_verifies(server):
    url, _ = server
    r = sim("--url", url, "--profile", "td1-idcard", "--can", profiles.CAN)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_badly_formed_mrz_option_is_a_usage_error():
    r = sim("--mrz", "X1234567")
    assert r.returncode == 2 and r.stderr.startswith("docval-sim: --mrz: give document number")


def test_a_result_that_differs_from_the_profile_exits_1(capsys):
    profile = profiles.get_profile(profiles.DEFAULT_PROFILE)
    result = {"access_control": profile.expect.access_control, "passive_authentication": False,
              "chip_authentication_result": "SUCCESS", "active_authentication_result": "SUCCESS"}
    assert cli.verdict(result, profile) == ["passive_authentication false (expected true)"]
    record = SimpleNamespace(close_code=1000, result=result)
    assert cli_run.exit_status_v1(record, profile, return_result=True) == 1
    assert "NOT as the profile expects: passive_authentication false" in capsys.readouterr().out
    assert cli_run.exit_status_v1(SimpleNamespace(close_code=1000, result=None), profile, True) == 1
    assert cli_run.exit_status_v1(SimpleNamespace(close_code=4401, result=None), profile, False) == 1
    assert cli_run.exit_status_v1(SimpleNamespace(close_code=1000, result=None), profile, False) == 0


def test_a_missing_ca_certificate_is_one_line(tmp_path):
    r = sim("--ca-cert", "/missing.pem", "--url", "wss://127.0.0.1:9/ws1/validate")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("docval-sim: --ca-cert /missing.pem: cannot read it (No such file or "
                                "directory): give the PEM file of the CA that signed the server's certificate")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    r = sim("--ca-cert", str(junk))
    assert r.returncode == 2 and "not a PEM certificate" in r.stderr and "Traceback" not in r.stderr


def test_wss_to_a_plain_port_says_tls_handshake_failed(server):
    _, port = server
    r = sim("--url", f"wss://127.0.0.1:{port}/ws1/validate")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "docval-sim: TLS handshake failed with" in r.stderr and "plain ws:// port" in r.stderr
    assert "peer dropped" not in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_the_install_check_fails_when_trust_is_broken(tmp_path):
    """docs/operations.md's check: a client without result_url (nothing is posted) and the
    exit status.  A server whose trust anchors did not load must make it fail."""
    port = free_port()
    config = tmp_path / "docval.toml"
    config.write_text(f'[server]\nlisten = "tcp:{port}:interface=127.0.0.1"\n'
                      '[trust]\ncsca = []\nallow_empty = true\n'
                      '[[client]]\nclient_id = "check-1234"\n')
    with Twistd(tmp_path, "--config", str(config)):
        r = sim("--url", f"ws://127.0.0.1:{port}/ws1/validate", "--client-id", "check-1234")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "closed     1000" in r.stdout
    assert "verdict    NOT as the profile expects: " in r.stdout
    assert "passive_authentication false (expected true)" in r.stdout
