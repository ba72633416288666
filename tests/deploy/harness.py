"""Real processes for the deployment tests: DocVal instances, nginx, the virtual phone.

Two modes, so the same test checks the source tree and the installed Debian package:
by default the processes run from this checkout with the current interpreter; with
``DOCVAL_TEST_INSTALLED=1`` (set by ``.ci/run.d/debian.sh``) they run the installed
package exactly as ``docval@.service`` does: ``/usr/bin/twistd3`` as user ``docval``, from
``/``, with an empty environment.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port, stop, twistd_command

PROJECT = Path(__file__).resolve().parents[2]
INSTALLED = os.environ.get("DOCVAL_TEST_INSTALLED") == "1"
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def shared_tempdir() -> Path:
    """A directory the unprivileged ``docval`` user can read (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="docval-deploy-"))
    path.chmod(0o755)
    return path


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


@dataclass
class DocVal:
    """One DocVal process with its own WebSocket and admin ports."""

    directory: Path
    client_id: str = "deploy-test"
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.directory / f"docval-{self.port}.log"

    def config(self) -> str:
        return (
            f'[server]\nlisten = "tcp:{self.port}:interface=127.0.0.1"\n'
            "[trust]\ndemo_csca = true\n"
            f'[admin]\nlisten = "tcp:{self.admin_port}:interface=127.0.0.1"\n'
            f'[[client]]\nclient_id = "{self.client_id}"\n'
        )

    def command(self, config: Path) -> list[str]:
        args = ["--nodaemon", "--pidfile=", "--logfile=-", "docval", "--config", str(config)]
        if INSTALLED:
            # The template unit's own command line for instance docval@PORT, with this
            # test's configuration file in place of /etc/docval/docval.toml.
            unit = Path("/lib/systemd/system/docval@.service").read_text()
            exec_start = re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE).group(1)
            # The unit puts the admin endpoint on the instance port + 10000; a free test
            # port may lie above 55535, so the test's own admin port takes its place.
            assert "--admin +10000" in exec_start, exec_start
            line = exec_start.replace("--admin +10000", f"--admin tcp:{self.admin_port}:interface=127.0.0.1").replace(
                "%i", str(self.port)).replace("--config /etc/docval/docval.toml", f"--config {config}")
            assert str(config) in line, exec_start
            return ["runuser", "-u", "docval", "--", "env", "-i",
                    *(f"{k}={v}" for k, v in CLEAN_ENV.items()), *line.split()]
        return twistd_command() + args

    def start(self) -> None:
        config = self.directory / f"docval-{self.port}.toml"
        config.write_text(self.config())
        config.chmod(0o644)
        env = dict(CLEAN_ENV) if INSTALLED else {**os.environ, "PYTHONPATH": str(PROJECT)}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                self.command(config), stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd="/" if INSTALLED else PROJECT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if http_get(f"http://127.0.0.1:{self.admin_port}/healthz")[0] == 200:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"DocVal on port {self.port} did not become healthy:\n"
                             + self.log.read_text(errors="replace")[-3000:])

    def metrics(self) -> str:
        status, body = http_get(f"http://127.0.0.1:{self.admin_port}/metrics")
        assert status == 200, status
        return body.decode()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=15)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


@dataclass
class Nginx:
    directory: Path
    site: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def main_config(self) -> str:
        d = self.directory
        return (
            "daemon off;\nmaster_process on;\nworker_processes 1;\n"
            f"pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n"
            f"  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n"
            f"  scgi_temp_path {d}/scgi;\n"
            f"  include {d}/docval-site.conf;\n"
            "}\n"
        )

    def start(self) -> None:
        binary = nginx_binary()
        assert binary, "nginx is not installed"
        (self.directory / "docval-site.conf").write_text(self.site)
        conf = self.directory / "nginx.conf"
        conf.write_text(self.main_config())
        base = [binary, "-p", str(self.directory), "-e", str(self.directory / "error.log"),
                "-c", str(conf)]
        check = subprocess.run(base + ["-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None, self.error_log()
            time.sleep(0.1)
        raise AssertionError("nginx did not listen:\n" + self.error_log())

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGQUIT, timeout=15)   # nginx's graceful shutdown


def sim_command(url: str, client_id: str, ca_file: Path, *extra: str) -> list[str]:
    """The virtual phone's command line, installed or from this checkout."""
    args = ["--url", url, "--client-id", client_id, "--return-result", "--ca-cert", str(ca_file), *extra]
    if INSTALLED:
        return ["/usr/bin/docval-sim", *args]
    return [sys.executable, "-m", "docval.sim.cli", *args]


def run_sim(url: str, client_id: str, ca_file: Path, *extra: str) -> subprocess.Popen:
    """A virtual phone trusting ``ca_file`` for wss://, as a real phone trusts a public CA."""
    env = dict(CLEAN_ENV) if INSTALLED else {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(sim_command(url, client_id, ca_file, *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env,
                            cwd="/" if INSTALLED else PROJECT, text=True)
