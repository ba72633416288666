"""The twistd plugin: options, service composition, trust reloads, and a real
``twistd -n docval`` process validated with ``docval-sim``."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import task

from docval import tap
from docval.config import ClientConfig, Config, ServerConfig, TrustConfig, AdminConfig
from docval.sim import profiles
from tests.support.processes import Twistd, environment, free_port

ROOT = Path(__file__).resolve().parents[1]


def test_options_defaults_and_listen_override():
    o = tap.Options()
    o.parseOptions(["--listen", "tcp:9001:interface=127.0.0.1", "--listen", "unix:/tmp/docval.sock"])
    assert o.config.server.listen == ("tcp:9001:interface=127.0.0.1", "unix:/tmp/docval.sock")
    assert o.config.clients[0].client_id == "YOUR CLIENT ID"
    o = tap.Options()
    o.parseOptions([])
    assert o.config.server.listen == ("tcp:8080:interface=127.0.0.1",)
    assert o.config.trust.demo_csca is True


def test_options_config_file(tmp_path):
    p = tmp_path / "docval.toml"
    p.write_text('[trust]\ndemo_csca = true\n[[client]]\nclient_id = "abc"\n[server]\nlisten = "tcp:7000:interface=127.0.0.1"\n')
    o = tap.Options()
    o.parseOptions(["--config", str(p)])
    assert o.config.server.listen == ("tcp:7000:interface=127.0.0.1",) and o.config.clients[0].client_id == "abc"


def test_bad_config_exits_nonzero_naming_the_key(tmp_path):
    p = tmp_path / "docval.toml"
    p.write_text('[timeouts]\nmax_session = "long"\n')
    with pytest.raises(tap.ConfigFileError, match=r"\[timeouts\] max_session"):
        tap.Options().parseOptions(["--config", str(p)])


def test_help_documents_the_options():
    text = str(tap.Options())
    assert "--config" in text and "--listen" in text and "demo" in text


def assert_fresh_python_says_ok(code: str) -> None:
    """Runs ``code`` in a new interpreter (nothing imported yet) and expects it to print ok."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_plugin_is_import_light_and_discoverable():
    code = (
        "import sys\n"
        "from twisted.plugin import getPlugins\n"
        "from twisted.application.service import IServiceMaker\n"
        "import twisted.plugins.docval_plugin as p\n"
        "assert 'twisted.internet.reactor' not in sys.modules, 'reactor imported'\n"
        "assert 'docval.config' not in sys.modules and 'docval.ws' not in sys.modules\n"
        "names = [m.tapname for m in getPlugins(IServiceMaker)]\n"
        "assert 'docval' in names, names\n"
        "print('ok')\n"
    )
    assert_fresh_python_says_ok(code)


def test_importing_the_service_never_installs_the_reactor():
    # twistd installs the reactor it was asked for (--reactor) after importing docval.tap;
    # a module-level ``from twisted.internet import reactor`` anywhere below it would
    # install the default one first.
    code = (
        "import sys\n"
        "import docval.tap, docval.admin, docval.poster, docval.ws.factory, docval.ws.v2session\n"
        "assert 'twisted.internet.reactor' not in sys.modules, 'reactor imported'\n"
        "print('ok')\n"
    )
    assert_fresh_python_says_ok(code)


def test_make_service_composes_listeners_and_admin():
    o = tap.Options()
    o.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0:interface=127.0.0.1"])
    svc = tap.makeService(o)
    names = [type(s).__name__ for s in svc]
    assert names.count("ListenerService") == 2
    assert svc.trust.count == 1                       # the demo CSCA
    assert svc.factory.config is o.config
    cfg = Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
        trust=TrustConfig(demo_csca=True),
        admin=AdminConfig(listen=("tcp:0:interface=127.0.0.1",)),
        clients=(ClientConfig(client_id="a"),),
    )
    svc = tap.DocValService(cfg)
    assert any(getattr(s, "name", None) == "docval-admin" for s in svc)


def test_bad_endpoint_is_a_clean_exit():
    cfg = Config(server=ServerConfig(listen=("ssl:8443:privateKey=/nonexistent.pem:interface=127.0.0.1",)),
                 trust=TrustConfig(demo_csca=True), clients=(ClientConfig(client_id="a"),))
    with pytest.raises(SystemExit, match="cannot listen"):
        tap.DocValService(cfg)


def test_port_in_use_fails_at_start():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = Config(server=ServerConfig(listen=(f"tcp:{port}:interface=127.0.0.1",)),
                     trust=TrustConfig(demo_csca=True), clients=(ClientConfig(client_id="a"),))
        svc = tap.DocValService(cfg)
        with pytest.raises(tap.StartupError, match="already in use"):
            svc.privilegedStartService()


def test_trust_with_files_and_demo(tmp_path):
    from docval.sim.pki import generate_pki

    d = tmp_path / "csca"
    d.mkdir()
    (d / "other.pem").write_bytes(generate_pki(country="XA").csca.cert_pem)
    before = set(Path("/tmp").glob("docval-demo-csca-*"))
    assert tap.load_trust(TrustConfig(csca=(d,), demo_csca=True)).count == 2
    assert set(Path("/tmp").glob("docval-demo-csca-*")) == before   # the temporary file is gone
    assert tap.load_trust(TrustConfig(csca=(d,), demo_csca=False)).count == 1
    assert tap.load_trust(TrustConfig(demo_csca=True)).count == 1


@pytest_twisted.ensureDeferred
async def test_service_health_metrics_and_trust_reload():
    import treq
    from twisted.internet import reactor

    loads = []

    def loader(trust_config):
        loads.append(1)
        if len(loads) == 3:
            raise OSError("disk gone")
        return tap.load_trust(trust_config)

    cfg = Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
        trust=TrustConfig(demo_csca=True, reload_interval=3600),
        admin=AdminConfig(listen=("tcp:0:interface=127.0.0.1",)),
        clients=(ClientConfig(client_id="YOUR CLIENT ID"),),
    )
    svc = tap.DocValService(cfg, reactor, trust_loader=loader)
    svc.startService()
    try:
        ok, details = svc.health()
        assert ok and details["listening"] and details["trust_store_loaded"]
        admin = [s for s in svc if getattr(s, "name", None) == "docval-admin"][0]
        for _ in range(50):
            if getattr(admin, "_waitingForPort", None) is not None and admin._waitingForPort.called:
                break
            await task.deferLater(reactor, 0.01, lambda: None)
        admin_port = (await admin._waitingForPort).getHost().port
        ws_port = svc.listeners[0].port.getHost().port

        from docval.sim.phone import PhoneOptions, access_key_json, run_phone

        p = profiles.get_profile("pace-ecdh-gm-aes128")
        record = await run_phone(f"ws://127.0.0.1:{ws_port}/ws1/validate", p.chip(),
                                 PhoneOptions(access_key=access_key_json(p.access_key), return_result=True),
                                 reactor=reactor)
        assert record.close_code == 1000
        health = await treq.get(f"http://127.0.0.1:{admin_port}/healthz")
        body = json.loads(await health.content())
        assert health.code == 200 and body["trust_store_loaded"] is True
        metrics = await (await treq.get(f"http://127.0.0.1:{admin_port}/metrics")).text()
        assert 'docval_sessions_started_total{protocol="v1"} 1.0' in metrics

        # A reload swaps the store; a failed load keeps the old one.
        first = svc.trust
        await svc.reload_trust()
        assert len(loads) == 2 and svc.trust is not first
        second = svc.trust
        await svc.reload_trust()
        assert len(loads) == 3 and svc.trust is second
        assert svc._reload_loop.running and svc._reload_loop.interval == 3600

        # SIGHUP reloads too.
        if hasattr(signal, "SIGHUP"):
            svc._reload_loop.stop()
            count = len(loads)
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(100):
                if len(loads) > count:
                    break
                await task.deferLater(reactor, 0.01, lambda: None)
            assert len(loads) == count + 1
    finally:
        await svc.stopService()
        from twisted.internet import reactor as r
        await task.deferLater(r, 0, lambda: None)


def test_reload_timer_runs_on_the_clock():
    clock = task.Clock()
    cfg = Config(server=ServerConfig(listen=()), trust=TrustConfig(demo_csca=True, reload_interval=60),
                 clients=(ClientConfig(client_id="a"),))
    svc = tap.DocValService(cfg, clock=clock)
    calls = []
    svc.reload_trust = lambda: calls.append(1)
    svc.startService()
    try:
        clock.advance(59)
        assert calls == []
        clock.advance(1)
        clock.advance(60)
        assert calls == [1, 1]
    finally:
        svc.stopService()
    assert clock.getDelayedCalls() == []


def test_session_keeps_the_trust_store_it_started_with():
    from tests.ws.harness import Harness, scripted_reader, start_message

    seen = []
    h = Harness(read_document=scripted_reader(seen=seen))
    stores = iter(["store-1", "store-2"])
    h.factory.set_trust(lambda: next(stores))
    c1 = h.raw(start_message(), path="/ws1/validate?return_result=true")
    h.run(c1)
    c2 = h.raw(start_message(), path="/ws1/validate?return_result=true")
    h.run(c2)
    assert [p.trust for p in seen] == ["store-1", "store-2"]


# --- the real thing: twistd and docval-sim as processes --------------------------------------

def test_twistd_process_validates_a_virtual_passport(tmp_path):
    port = free_port()
    env = environment()
    with Twistd(tmp_path, "--listen", f"tcp:{port}:interface=127.0.0.1") as server:
        sim = subprocess.run(
            [sys.executable, "-m", "docval.sim.cli", "--url", f"ws://127.0.0.1:{port}/ws1/validate",
             "--profile", "pace-ecdh-gm-aes128", "--pipeline", "4"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert "status     DONE" in sim.stdout and "closed     1000" in sim.stdout
        assert "passive authentication  true" in sim.stdout
        refused = subprocess.run(
            [sys.executable, "-m", "docval.sim.cli", "--url", f"ws://127.0.0.1:{port}/ws1/validate",
             "--no-return-result"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert refused.returncode == 1 and "4401 INVALID_CLIENT_ID" in refused.stdout
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while server.log().count("trust store ") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.log().count("CSCA certificates") >= 2
    text = server.log()
    assert "outcome=success" in text and "INVALID_CLIENT_ID" in text
    for secret in (profiles.PASSPORT_NUMBER, profiles.HOLDER["primary_identifier"],
                   profiles.HOLDER["date_of_birth"], profiles.CAN):
        assert secret not in text
    # twistd re-raises the terminating signal on exit (systemd counts SIGTERM as clean).
    assert server.returncode in (0, -signal.SIGTERM), text[-2000:]
    assert "Server Shut Down" in text


def test_admin_option_overrides_the_config_and_none_disables_it(tmp_path):
    from docval.tap import Options

    path = tmp_path / "docval.toml"
    path.write_text('[trust]\ndemo_csca = true\n[admin]\nlisten = "tcp:9100:interface=127.0.0.1"\n[[client]]\nclient_id = "c"\nresult_url = "http://127.0.0.1:1/r"\n')
    options = Options()
    options.parseOptions(["--config", str(path), "--admin", "tcp:18081:interface=127.0.0.1"])
    assert options.config.admin.listen == ("tcp:18081:interface=127.0.0.1",)
    options = Options()
    options.parseOptions(["--config", str(path), "--admin", "none"])
    assert options.config.admin.listen == ()
    options = Options()
    options.parseOptions(["--config", str(path)])
    assert options.config.admin.listen == ("tcp:9100:interface=127.0.0.1",)
