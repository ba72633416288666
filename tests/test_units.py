"""The shipped systemd units and nginx sample: hardening, no capability unless the low-port
drop-in is used, and the docval@ admin port rule (instance port + 10000) for every valid
instance port, with a one-line refusal beyond it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from docval import tap

ROOT = Path(__file__).resolve().parents[1]
UNITS = [ROOT / "debian" / "docval.service", ROOT / "debian" / "docval@.service"]


def settings(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_are_hardened(unit):
    s = settings(unit)
    for key, value in {"LimitCORE": "0", "SystemCallFilter": "@system-service",
                       "ProtectProc": "invisible", "ProcSubset": "pid", "NoNewPrivileges": "yes",
                       "CapabilityBoundingSet": ""}.items():
        assert s.get(key) == [value], (key, s.get(key))
    assert re.fullmatch(r"\d+[MG]", s["MemoryMax"][0]) and int(s["TasksMax"][0]) >= 16
    assert "AmbientCapabilities" not in s


def test_the_low_port_drop_in_grants_only_binding_and_is_shipped():
    dropin = settings(ROOT / "debian" / "low-port.conf")
    assert dropin == {"AmbientCapabilities": ["CAP_NET_BIND_SERVICE"],
                      "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE"]}
    assert "debian/low-port.conf" in (ROOT / "debian" / "docval.examples").read_text().split()
    assert "low-port.conf" in (ROOT / "docs" / "operations.md").read_text()


def instance_options(port: str) -> tap.Options:
    exec_start = settings(ROOT / "debian" / "docval@.service")["ExecStart"][0]
    args = shlex.split(exec_start.replace("%i", port))
    args = args[args.index("docval") + 1:]
    args = [a for a in args if a != "/etc/docval/docval.toml"]
    args.remove("--config")
    options = tap.Options()
    options.parseOptions(args)
    return options


@pytest.mark.parametrize("port, admin", [("8081", 18081), ("1024", 11024), ("18081", 28081),
                                         ("55535", 65535)])
def test_the_instance_admin_port_is_the_instance_port_plus_10000(port, admin):
    options = instance_options(port)
    assert options.config.server.listen == (f"tcp:{port}:interface=127.0.0.1",)
    assert options.config.admin.listen == (f"tcp:{admin}:interface=127.0.0.1",)


def test_an_instance_port_beyond_the_rule_is_one_line():
    with pytest.raises(SystemExit, match=r"--admin \+10000: WebSocket port 55536 \+ 10000 = 65536 is "
                                         r"out of range \(1-65535\): use a WebSocket port up to 55535"):
        instance_options("55536")


def test_nginx_sample_limits_each_client_address():
    text = (ROOT / "docs" / "deploy" / "nginx-docval.conf").read_text()
    assert re.search(r"^limit_conn_zone \$binary_remote_addr zone=docval_conn:", text, re.M)
    assert re.search(r"^limit_req_zone +\$binary_remote_addr zone=docval_req:.* rate=", text, re.M)
    assert re.search(r"^\s+limit_conn docval_conn \d+;", text, re.M)
    assert re.search(r"^\s+limit_req zone=docval_req burst=\d+", text, re.M)
