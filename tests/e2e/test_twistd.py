"""``twistd -n --pidfile= docval --config FILE`` for real: the interpreter's own twistd
script (``twistd3`` on Debian), a configuration file with a Result Server, and the
``docval-sim`` virtual phone as separate processes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from docval.sim import profiles
from tests.schema import check_emrtd_passport
from tests.support.processes import Twistd, environment, free_port, run_twistd

from .stack import FILES, RETURNING

BIN = Path(sys.executable).parent


def docval_sim() -> list[str]:
    script = BIN / "docval-sim"
    # Debian's python3 runs the source tree, where the console script is not installed.
    return [str(script)] if script.exists() else [sys.executable, "-m", "docval.sim.cli"]


class ResultServer:
    """A plain-HTTP Result Server in a thread of the test process."""

    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                outer.bodies.append({"content_type": self.headers["Content-Type"],
                                     "body": json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/results"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_config(path: Path, port: int, result_url: str, **extra: str) -> Path:
    path.write_text(f"""
[server]
listen = "tcp:{port}:interface=127.0.0.1"

[timeouts]
start_message = 2
apdu_response = 5
max_session = 30
{extra.get("timeouts", "")}

[trust]
demo_csca = true

[[client]]
client_id = "{FILES}"
result_url = "{result_url}"
files_binary = true

[[client]]
client_id = "{RETURNING}"
""")
    return path


def sim(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(docval_sim() + ["--url", url, *args], cwd=cwd, env=environment(),
                          capture_output=True, text=True, timeout=120)


def test_twistd_with_a_config_file_validates_virtual_passports(tmp_path):
    results = ResultServer()
    port = free_port()
    config = write_config(tmp_path / "docval.toml", port, results.url)
    url = f"ws://127.0.0.1:{port}/ws1/validate"
    try:
        with Twistd(tmp_path, "--config", str(config), script=True) as server:
            posted = sim(url, "--client-id", FILES, "--no-return-result", "--profile", "td1-idcard",
                         "--validation-id", "e2e-twistd-1", cwd=tmp_path)
            assert posted.returncode == 0, posted.stdout + posted.stderr
            assert "status     DONE" in posted.stdout and "closed     1000" in posted.stdout
            assert "result:" not in posted.stdout             # the Result Server got it, not the phone

            returned = sim(url, "--profile", "bac-3des", "--platform", "android", "--no-extended-length",
                           "--pipeline", "4", "--delay-ms", "2", cwd=tmp_path)
            assert "passive authentication  true" in returned.stdout
            # A 2048-bit DH key makes 3DES CA's MSE:Set KAT too long for a short-only phone: it
            # goes as a command chain.  RSA-2048 AA needs an extended answer; with the chip
            # proven by CA, that alone is UNAVAILABLE, not FAILED.
            assert "chip authentication     SUCCESS" in returned.stdout
            assert "active authentication   UNAVAILABLE" in returned.stdout
            # The profile's chip has AA: docval-sim's exit status says the result differs from it.
            assert "verdict    NOT as the profile expects: " in returned.stdout
            assert returned.returncode == 1, returned.stdout + returned.stderr

            refused = sim(url, "--client-id", "nobody", cwd=tmp_path)
            assert refused.returncode == 1 and "closed     4401 INVALID_CLIENT_ID" in refused.stdout
    finally:
        results.close()
    # twistd re-raises the terminating signal after a clean shutdown.
    assert server.returncode in (0, -signal.SIGTERM)

    (post,) = results.bodies
    assert post["content_type"] == "application/json"
    assert post["body"]["client_validation_id"] == "e2e-twistd-1"
    result = post["body"]["emrtd_passport"]
    check_emrtd_passport(result)
    assert result["mrz_info"]["document_number"] == profiles.ID_CARD_NUMBER
    assert result["passive_authentication"] is True
    assert set(result["files_binary"]) == {"sod", "dg1", "dg2", "dg14"}

    text = server.log()
    assert text.count("outcome=success") == 2 and "close_reason=INVALID_CLIENT_ID" in text
    assert "Server Shut Down" in text
    for secret in (profiles.PASSPORT_NUMBER, profiles.ID_CARD_NUMBER[:9], profiles.CAN,
                   profiles.HOLDER["primary_identifier"], profiles.HOLDER["date_of_birth"], FILES):
        assert secret not in text

    gone = sim(url, cwd=tmp_path)
    assert gone.returncode == 2 and "cannot connect" in gone.stderr


def run_with_mistake(tmp_path) -> subprocess.CompletedProcess:
    config = write_config(tmp_path / "docval.toml", free_port(), "http://127.0.0.1:9/results",
                          timeouts="start_mesage = 3")
    return run_twistd(tmp_path, "--config", str(config), script=True, logfile=None, timeout=60)


def test_twistd_names_the_mistake_in_a_config_file(tmp_path):
    run = run_with_mistake(tmp_path)
    assert "unknown key 'start_mesage'" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr


# Twisted 22.4 (Debian 12) exits 0 after a UsageError, so docval raises SystemExit itself.
def test_twistd_exits_nonzero_for_a_mistake_in_a_config_file(tmp_path):
    assert run_with_mistake(tmp_path).returncode != 0
