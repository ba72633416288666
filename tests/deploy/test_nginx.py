"""The shipped nginx configuration in front of two DocVal instances, with real processes.

Sessions through the proxy must land on both instances and all complete. The site file
is docs/deploy/nginx-docval.conf itself; only its ports and certificate paths change.
"""
from __future__ import annotations

import re
import shutil
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.harness import INSTALLED, PROJECT, DocVal, Nginx, nginx_binary, run_sim, shared_tempdir
from tests.deploy.tlsutil import make_tls_files

SHIPPED = PROJECT / "docs" / "deploy" / "nginx-docval.conf"

if nginx_binary() is None:
    # .ci/run.d/debian.sh installs nginx and runs this test against the installed package,
    # where it must never be skipped; the PyPI and Debian suites before it may lack nginx.
    if INSTALLED:
        pytest.fail("nginx is required here: apt-get install nginx", pytrace=False)
    pytest.skip("nginx is not installed (apt-get install nginx)", allow_module_level=True)


def _replace_once(pattern: str, replacement: str, text: str) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"expected one {pattern!r} in {SHIPPED.name}"
    return new


def render_site(upstreams: list[int], port: int, cert: Path, key: Path) -> str:
    site = SHIPPED.read_text()
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+;\n", site, flags=re.MULTILINE)
    assert len(servers) >= 2, "the shipped upstream should list several instances"
    site = re.sub(r"(^\s*server 127\.0\.0\.1:\d+;\n)+",
                  "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams), site,
                  count=1, flags=re.MULTILINE)
    site = _replace_once(r"^\s*listen 443 ssl;$", f"    listen 127.0.0.1:{port} ssl;", site)
    site = _replace_once(r"^\s*listen \[::\]:443 ssl;\n", "", site)
    site = _replace_once(r"^\s*ssl_certificate .*;$", f"    ssl_certificate {cert};", site)
    site = _replace_once(r"^\s*ssl_certificate_key .*;$", f"    ssl_certificate_key {key};", site)
    return site


def successes(instance: DocVal) -> float:
    for family in text_string_to_metric_families(instance.metrics()):
        for s in family.samples:
            if (s.name == "docval_sessions_finished_total" and s.labels["outcome"] == "success"):
                return s.value
    return 0.0


@pytest.fixture(scope="module")
def deployment():
    directory = shared_tempdir()
    instances = [DocVal(directory), DocVal(directory)]
    nginx = None
    try:
        for instance in instances:
            instance.start()
        tls = make_tls_files(directory)
        with open(tls.cert, "ab") as full:   # nginx wants leaf + intermediates in one file
            full.write(tls.chain.read_bytes())
        nginx = Nginx(directory, "")
        nginx.site = render_site([i.port for i in instances], nginx.port, tls.cert, tls.key)
        nginx.start()
        yield instances, nginx, tls, directory
    finally:
        if nginx is not None:
            nginx.stop()
        for instance in instances:
            instance.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_sessions_through_nginx_land_on_both_instances_and_complete(deployment):
    instances, nginx, tls, directory = deployment
    url = f"wss://localhost:{nginx.port}/ws1/validate"
    outputs = []
    # Two phones at a time: least_conn then has to use both instances at once.
    for _ in range(2):
        phones = [run_sim(url, instances[0].client_id, tls.root) for _ in range(2)]
        for phone in phones:
            out, _ = phone.communicate(timeout=120)
            outputs.append(out)
            assert phone.returncode == 0, out + nginx.error_log()
    for out in outputs:
        assert re.search(r"^status +DONE", out, re.MULTILINE), out
        assert re.search(r"^closed +1000$", out, re.MULTILINE), out
    counts = [successes(i) for i in instances]
    assert sum(counts) == 4, counts
    assert all(c >= 1 for c in counts), counts


def test_an_api_v2_session_through_nginx_completes(deployment):
    instances, nginx, tls, _ = deployment
    phone = run_sim(f"wss://localhost:{nginx.port}/ws2/validate", instances[0].client_id, tls.root, "--api", "v2")
    out, _ = phone.communicate(timeout=120)
    assert phone.returncode == 0, out + nginx.error_log()
    assert re.search(r"^closed +1000$", out, re.MULTILINE), out


def test_only_the_websocket_paths_are_proxied(deployment):
    _, nginx, tls, _ = deployment
    ctx = ssl.create_default_context(cafile=str(tls.root))
    for path in ("/", "/healthz", "/metrics", "/ws3/validate", "/ws2/validate/x"):
        req = urllib.request.Request(f"https://localhost:{nginx.port}{path}")
        try:
            urllib.request.urlopen(req, context=ctx, timeout=10)
            raise AssertionError(f"{path} answered")
        except urllib.error.HTTPError as e:
            assert e.code == 404, (path, e.code)
            assert "nginx/" not in (e.headers.get("server") or ""), "version banner"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_the_proxy_refuses_tls_below_1_2(deployment):
    _, nginx, tls, _ = deployment
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(tls.root))
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                pass
