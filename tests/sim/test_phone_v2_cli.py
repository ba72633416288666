"""docval-sim --api v2: listed in --help, the v1-only options refused, the camelCase
RESULT shown with v1's names and judged by the v2 rules, and a whole session through
a scripted v2 server (tests/sim/test_phone_v2.py) with the exit status of v1."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from docval.sim import cli, cli_run, profiles
from docval.sim.phone_v2 import PhoneV2Options
from tests.support.processes import Twistd, free_port, run_sim_cli


def test_help_lists_the_api_option_and_v1_stays_the_default():
    text = " ".join(cli.build_parser().format_help().split())
    assert "--api {v1,v2}" in text and "(default: v1)" in text
    assert cli.build_parser().parse_args([]).api == "v1"


@pytest.mark.parametrize("extra", [["--pipeline", "4"], ["--max-command-bytes", "300"],
                                   ["--max-response-bytes", "1024"]])
def test_v1_only_options_are_a_usage_error_with_v2(extra, capsys):
    assert cli.main(["--api", "v2", *extra]) == cli.EXIT_ERROR
    assert "API v1 only" in capsys.readouterr().err


def test_skip_aa_is_a_usage_error_with_v1(capsys):
    assert cli.main(["--skip-aa-after-ca"]) == cli.EXIT_ERROR
    assert "API v2 only" in capsys.readouterr().err


def test_camel_case_result_is_summarised_with_v1_names():
    passport = {"mrzInfo": {"documentNumber": "X", "secondaryIdentifier": ["A"]},
                "passiveAuthenticationDetails": {"dataGroupsWithValidHash": [1, 2]},
                "sodInfo": {"hashForDataGroup": {"1": "qg=="}}}
    snake = cli.snake_case(passport)
    assert snake == {"mrz_info": {"document_number": "X", "secondary_identifier": ["A"]},
                     "passive_authentication_details": {"data_groups_with_valid_hash": [1, 2]},
                     "sod_info": {"hash_for_data_group": {"1": "qg=="}}}
    assert any("hashes valid for DG 1,2" in line for line in cli.summarize(snake))


def _record(**kw):
    base = dict(close_code=1000, close_reason=None, phone_close=None, result=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_exit_status_v2_follows_the_v2_rules(capsys):
    cam = profiles.get_profile("pace-ecdh-cam-aes128")
    opts = PhoneV2Options(access_key=cam.access_key)
    as_v2 = {"chipAuthenticationResult": "UNAVAILABLE", "activeAuthenticationResult": "UNAVAILABLE",
             "passiveAuthentication": True}
    assert cli_run.exit_status_v2(_record(result=as_v2), cam, opts) == cli.EXIT_OK
    as_v1 = dict(as_v2, chipAuthenticationResult="SUCCESS")
    assert cli_run.exit_status_v2(_record(result=as_v1), cam, opts) == cli.EXIT_FAILED
    assert cli_run.exit_status_v2(_record(result=as_v2, phone_close=(1008, "PROTOCOL_ERROR")), cam, opts) \
        == cli.EXIT_FAILED
    assert cli_run.exit_status_v2(_record(), cam, opts) == cli.EXIT_FAILED
    assert cli_run.exit_status_v2(_record(), cam, PhoneV2Options(access_key=None, send_result=False)) == cli.EXIT_OK


def test_the_clone_is_expected_to_end_with_communication_failed(capsys):
    clone = profiles.get_profile("clone")
    opts = PhoneV2Options(access_key=clone.access_key)
    closed = _record(close_code=1011, close_reason="COMMUNICATION_FAILED")
    assert cli_run.exit_status_v2(closed, clone, opts) == cli.EXIT_OK
    assert cli_run.exit_status_v2(_record(result={"chipAuthenticationResult": "FAILED"}), clone, opts) \
        == cli.EXIT_FAILED


# -- against the real server ---------------------------------------------------------------

sim = run_sim_cli


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """DocVal on its demo defaults (loopback, the demo client and CSCA) on a free port."""
    port = free_port()
    with Twistd(tmp_path_factory.mktemp("server"), "--listen", f"tcp:{port}:interface=127.0.0.1"):
        yield f"ws://127.0.0.1:{port}/ws2/validate"


@pytest.mark.parametrize("extra", [[], ["--platform", "iOS", "--profile", "bac-3des"],
                                   ["--profile", "clone"], ["--profile", "pace-ecdh-cam-aes128"],
                                   ["--skip-aa-after-ca", "--no-extended-length"]])
def test_v2_sessions_verify_as_the_profile_expects(server_url, extra):
    r = sim("--api", "v2", "--url", server_url, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict    verified, as the profile expects" in r.stdout
    assert "(API v2, " in r.stdout


def test_v2_wrong_key_fails_on_the_phone(server_url):
    r = sim("--api", "v2", "--url", server_url, "--can", "000000")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "phone      closed 4403 ACCESS_CONTROL_FAILED" in r.stdout


def test_v2_without_url_connects_to_the_ws2_path():
    r = sim("--api", "v2", timeout=60)
    assert "connecting ws://127.0.0.1:8080/ws2/validate  (API v2, android)" in r.stdout, r.stdout + r.stderr
