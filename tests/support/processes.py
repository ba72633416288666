"""Server processes for tests: free ports, twistd, the hostile-input server.

One launcher for ``twistd docval``: the command (the interpreter's own twistd code, or the
installed ``twistd``/``twistd3`` script where a test is about the script), an environment
in which the checkout's ``twisted/plugins`` is found, waiting for "listening on" in the
log, and a stop that escalates from the signal to SIGKILL.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment() -> dict[str, str]:
    # The project root holds twisted/plugins/docval_plugin.py for Debian's interpreter.
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")


def run_sim_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``docval-sim ARGS`` from this checkout, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "docval.sim.cli", *args], env=environment(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def twistd_command(*, script: bool = False) -> list[str]:
    """How to start twistd: this interpreter running twistd's entry point, or (``script``) the
    twistd script installed next to it (``twistd3`` on Debian)."""
    if script:
        for name in ("twistd", "twistd3"):
            path = BIN / name
            if path.exists():
                return [str(path)]
        raise FileNotFoundError(f"no twistd script next to {sys.executable}")
    # sys.argv[0] is what twistd names itself in its usage and error lines.
    return [sys.executable, "-c", "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"]


def run_twistd(directory: Path, *args: str, script: bool = False, logfile: str | None = "-",
               timeout: float = 120) -> subprocess.CompletedProcess:
    """``twistd -n --pidfile= [--logfile=LOGFILE] docval ARGS`` to its end (a start-up that
    must fail); ``logfile=None`` leaves twistd its default."""
    log = [] if logfile is None else [f"--logfile={logfile}"]
    return subprocess.run(twistd_command(script=script) + ["-n", "--pidfile=", *log, "docval", *args],
                          cwd=directory, env=environment(), capture_output=True, text=True, timeout=timeout)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Twistd:
    """``twistd -n --pidfile= --logfile=LOG docval ARGS`` in ``directory``, for a ``with`` block.

    Entering waits until the log says "listening on" (or fails the test with the log);
    leaving stops the process with SIGTERM.  ``returncode`` and ``log()`` stay readable
    afterwards.
    """

    def __init__(self, directory: Path, *args: str, script: bool = False, ready: str = "listening on",
                 timeout: float = 60):
        self.directory = Path(directory)
        self.log_path = self.directory / "twistd.log"
        self.command = twistd_command(script=script) + ["-n", "--pidfile=", f"--logfile={self.log_path}",
                                                        "docval", *args]
        self.ready, self.timeout = ready, timeout
        self.proc: subprocess.Popen | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def __enter__(self) -> "Twistd":
        self.proc = subprocess.Popen(self.command, cwd=self.directory, env=environment(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while self.ready not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.stop()
                raise AssertionError(f"twistd did not start:\n{output}{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop(self.proc, sig)
            self.proc.stdout.close()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ServerProcess:
    """``tests.hostile.serve`` in a subprocess; ``log()`` is everything it wrote to stderr."""

    def __init__(self, **options: Any):
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"docval-hostile-{os.getpid()}-{id(self)}.log"
        self._log_file = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.serve", json.dumps(options)],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log_file, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORTS"):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r} {self.log()[-2000:]}")
        _, ws, state = line.split()
        self.port, self.state_port = int(ws), int(state)

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.state_port}/state", timeout=10) as r:
            return json.loads(r.read())

    def log(self) -> str:
        self._log_file.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        try:
            self.log_path.unlink()
        except OSError:
            pass
