"""Operator mistakes at start-up are one line naming the key or option and the fix, exit
status 1, never a traceback; unsafe defaults (no client, the demo id or CSCA on a reachable
listener, no trust anchor) refuse to start."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from docval import __version__, tap
from docval.config import ConfigError, load_config, parse_config
from docval.sim import pki
from tests.support.processes import environment, run_twistd, twistd_command

ROOT = Path(__file__).resolve().parents[1]


def config_text(listen: str = "tcp:0:interface=127.0.0.1", admin: str | None = None,
                client: str = "a secret", trust: str = "demo_csca = true") -> str:
    text = f'[server]\nlisten = "{listen}"\n[trust]\n{trust}\n'
    if admin is not None:
        text += f'[admin]\nlisten = "{admin}"\n'
    if client:
        text += f'[[client]]\nclient_id = "{client}"\n'
    return text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "docval.toml"
    path.write_text(text)
    return path


def twistd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_twistd(tmp_path, *args, timeout=60)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "docval:" in line]
    assert len(lines) == 1, output
    return lines[0]


# --- endpoint strings ---------------------------------------------------------------------

@pytest.mark.parametrize("section", ["server", "admin"])
def test_a_mistyped_endpoint_keyword_names_the_key_and_the_option(tmp_path, section):
    bad = "tcp:18080:interfac=127.0.0.1"
    text = config_text(bad) if section == "server" else config_text(admin=bad)
    with pytest.raises(ConfigError, match=rf"\[{section}\] listen: .*unknown option 'interfac' "
                                          r"for tcp: \(known: port, interface, backlog\)"):
        load_config(write(tmp_path, text))


def test_a_port_out_of_range_names_the_range(tmp_path):
    with pytest.raises(ConfigError, match=r"\[admin\] listen: .*port 118081 is out of range \(1-65535"):
        load_config(write(tmp_path, config_text(admin="tcp:118081:interface=127.0.0.1")))


@pytest.mark.parametrize("args, expected", [
    (["--admin", "127.0.0.1:9100"], r"--admin: '127.0.0.1:9100' is not a Twisted endpoint string: "
                                    r"write e.g. 'tcp:"),
    (["--listen", "tcp:118081:interface=127.0.0.1"], r"--listen: .*port 118081 is out of range"),
    (["--listen", "tcp:8080:interfac=127.0.0.1"], r"--listen: .*unknown option 'interfac'"),
    (["--admin", "nosuchtype:1"], r"--admin: .*unknown endpoint type 'nosuchtype'"),
])
def test_bad_command_line_endpoints_are_one_line(args, expected):
    with pytest.raises(SystemExit, match=expected):
        tap.Options().parseOptions(args)


def test_twistd_prints_one_line_for_a_mistyped_keyword(tmp_path):
    config = write(tmp_path, config_text("tcp:18080:interfac=127.0.0.1"))
    line = one_line_error(twistd(tmp_path, "--config", str(config)))
    assert "[server] listen" in line and "'interfac'" in line


def test_twistd_prints_one_line_for_a_bad_admin_option(tmp_path):
    line = one_line_error(twistd(tmp_path, "--admin", "127.0.0.1:9100"))
    assert "--admin" in line and "tcp:" in line


# --- ports in use -----------------------------------------------------------------------------

@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("where", ["server", "admin"])
def test_a_port_in_use_names_the_key_and_the_fix(busy_port, where):
    listen = f"tcp:{busy_port}:interface=127.0.0.1" if where == "server" else "tcp:0:interface=127.0.0.1"
    admin = f"tcp:{busy_port}:interface=127.0.0.1" if where == "admin" else None
    config = parse_config(__import__("tomllib").loads(config_text(listen, admin)))
    service = tap.DocValService(config)
    with pytest.raises(tap.StartupError, match=rf"already in use.*choose another port in \[{where}\] listen"):
        service.privilegedStartService()
    service.stopService()


def test_twistd_prints_one_line_for_a_port_in_use(tmp_path, busy_port):
    line = one_line_error(twistd(tmp_path, "--listen", f"tcp:{busy_port}:interface=127.0.0.1"))
    assert f"'tcp:{busy_port}:interface=127.0.0.1'" in line and "already in use" in line


# --- safe defaults ------------------------------------------------------------------------------

def test_no_client_refuses_with_what_to_add_and_where(tmp_path):
    path = write(tmp_path, config_text(client=""))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: no client is configured: add a [[client]] section")
    assert "\n" not in message


@pytest.mark.parametrize("text, culprit", [
    (config_text("tcp:8080", client="YOUR CLIENT ID", trust='csca = ["."]'), "demo client_id"),
    (config_text("tcp:8080:interface=0.0.0.0"), "demo_csca"),
    (config_text(admin="tcp:9100"), "demo_csca"),
    (config_text("ssl:8443:privateKey=k.pem:interface=192.0.2.1", client="YOUR CLIENT ID",
                 trust='csca = ["."]'), "demo client_id"),
])
def test_the_demo_client_and_csca_need_every_listener_on_loopback(tmp_path, text, culprit):
    with pytest.raises(ConfigError, match=rf"{culprit}.*may only be used when every listener is on loopback"):
        load_config(write(tmp_path, text))


def test_the_demo_client_and_csca_on_loopback_and_unix_sockets_are_fine(tmp_path):
    text = config_text("tcp:8080:interface=127.0.0.1", admin="unix:/tmp/docval-admin.sock",
                       client="YOUR CLIENT ID")
    config = load_config(write(tmp_path, text))
    assert config.trust.demo_csca and config.clients[0].client_id == "YOUR CLIENT ID"
    # the built-in defaults moved off loopback by --listen are refused too
    with pytest.raises(SystemExit, match="may only be used when every listener is on loopback"):
        tap.Options().parseOptions(["--listen", "tcp:8080"])


def test_an_imported_demo_csca_is_refused_on_a_reachable_listener(tmp_path):
    (tmp_path / "csca").mkdir()
    (tmp_path / "csca" / "ut.pem").write_bytes(pki.demo_csca_pem())
    text = config_text("tcp:0:interface=0.0.0.0", trust='csca = ["csca"]')
    with pytest.raises(tap.StartupError, match=r"include the demo CSCA.*not on loopback"):
        tap.DocValService(load_config(write(tmp_path, text)))
    on_loopback = tap.DocValService(load_config(write(tmp_path, text.replace("0.0.0.0", "127.0.0.1"))))
    assert on_loopback.trust.count == 1


def test_no_trust_anchor_loaded_refuses_start_unless_allowed(tmp_path):
    text = config_text(trust='csca = ["/etc/docval/csac"]')     # mistyped
    with pytest.raises(tap.StartupError, match=r"no CSCA certificate could be loaded from \[trust\] csca "
                                               r"\(/etc/docval/csac\).*allow_empty = true"):
        tap.DocValService(load_config(write(tmp_path, text)))
    allowed = text.replace("[trust]\n", "[trust]\nallow_empty = true\n")
    assert tap.DocValService(load_config(write(tmp_path, allowed))).trust.count == 0
    # csca = [] was refused before; allow_empty lets it through as well
    assert load_config(write(tmp_path, config_text(trust="csca = []\nallow_empty = true"))).trust.allow_empty


def test_twistd_refuses_an_empty_trust_store_in_one_line(tmp_path):
    config = write(tmp_path, config_text(trust='csca = ["/nonexistent/csca"]'))
    line = one_line_error(twistd(tmp_path, "--config", str(config)))
    assert "[trust] csca" in line and "allow_empty" in line


# --- version ------------------------------------------------------------------------------------

def test_the_server_logs_its_version_and_healthz_reports_it(tmp_path):
    config = parse_config(__import__("tomllib").loads(config_text()))
    service = tap.DocValService(config)
    ok, details = service.health()
    assert details["version"] == __version__
    from twisted.logger import globalLogPublisher

    seen: list[str] = []

    def observe(event):
        if event.get("log_format") == "DocVal {version} starting":
            seen.append(event["version"])

    globalLogPublisher.addObserver(observe)
    try:
        service.privilegedStartService()
    finally:
        globalLogPublisher.removeObserver(observe)
        service.stopService()
    assert seen == [__version__]


# --- scripts/demo ---------------------------------------------------------------------------------

@pytest.fixture
def demo_env(tmp_path):
    """scripts/demo with this interpreter as its virtualenv (no venv is built)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    for name, module in (("twistd", "from twisted.scripts.twistd import run; run()"),
                         ("docval-sim", "from docval.sim.cli import main; raise SystemExit(main())")):
        script = venv / "bin" / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "{module}" "$@"\n')
        script.chmod(0o755)
    (venv / ".docval-installed").touch()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = dict(os.environ, DOCVAL_VENV=str(venv), DOCVAL_DEMO_DIR=str(run_dir), PYTHONPATH=str(ROOT))
    return env, run_dir


def test_demo_on_a_taken_port_says_how_to_choose_another(demo_env, busy_port):
    env, run_dir = demo_env
    r = subprocess.run([str(ROOT / "scripts" / "demo")], env=dict(env, DOCVAL_DEMO_PORT=str(busy_port)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in r.stderr
    assert "DOCVAL_DEMO_PORT=" in r.stderr and "Traceback" not in r.stderr
    assert not (run_dir / "docval-demo.pid").exists()


def test_demo_that_cannot_start_names_the_log_file(demo_env):
    env, run_dir = demo_env
    r = subprocess.run([str(ROOT / "scripts" / "demo")], env=dict(env, DOCVAL_DEMO_PORT="118081"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "port 118081 is out of range" in r.stderr
    assert f"See {run_dir}/docval-demo.log; choose another port with DOCVAL_DEMO_PORT=" in r.stderr
    assert "Traceback" not in r.stderr


def test_twistd_docval_version(tmp_path):
    r = subprocess.run(twistd_command() + ["docval", "--version"], cwd=tmp_path, env=environment(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"DocVal {__version__}", r.stdout + r.stderr
