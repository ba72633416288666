"""The v2 benchmark scenarios, run with tiny counts so they cannot rot (the real runs are in
docs/performance.md): every v2 session must fully verify, and the reference document needs
at most 8 network round trips (issue 13's target)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script, *args, tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_roundtrips_v2_scenarios(tmp_path):
    table, report = run_bench("roundtrips.py", "--rtts", "0", "--chip-ms", "0",
                              "--scenarios", "android,v2-android,v2-ios", tmp_path=tmp_path)
    rows = report["scenarios"]
    assert list(rows) == ["classic", "android", "v2-android", "v2-ios"]
    for name in ("v2-android", "v2-ios"):
        row = rows[name]
        assert row["phone"]["api"] == "v2"
        # START/ACCEPT, the relayed APDUs, the handback, FINISH/RESULT.
        assert row["round_trips"] == row["apdus"] + 3 <= 8
        assert row["chip_apdus"] > row["apdus"] and row["bytes_from_phone"] > 10000
        assert row["seconds_to_result"]["0"] > 0
    assert rows["v2-android"]["chip_apdus"] > rows["v2-ios"]["chip_apdus"]   # short reads vs extended
    assert "times the phone waited for the server" in table


def test_capacity_v2_runs_every_phase(tmp_path):
    table, report = run_bench("capacity.py", "--scenario", "v2-android", "--sessions", "3", "--cpu-sessions", "2",
                              "--throughput-seconds", "0.5", "--concurrency", "2", "--probes", "2", "--rtt", "0",
                              "--chip-ms", "0", tmp_path=tmp_path)
    assert report["scenario"] == "v2-android" and report["gate"] == "ACCEPT"
    assert report["cpu_ms_per_session"]["median"] > 0
    assert report["throughput"]["sessions"] >= 1 and report["throughput"]["failed"] == 0
    assert report["held"]["sessions"] == 3 and report["held"]["server_open_sessions"] >= 3
    assert report["latency_idle"]["apdus"] > 0 and report["latency_while_held"]["sessions"] == 2
    assert report["release"]["succeeded"] == 3
    assert "held mid-read (at ACCEPT)" in table
