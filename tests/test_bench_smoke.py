"""The benchmarks, run with tiny counts so they cannot rot (the real runs are in docs/performance.md)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script, *args, tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_roundtrips_compares_every_scenario_with_classic(tmp_path):
    table, report = run_bench("roundtrips.py", "--rtts", "0", "--chip-ms", "0",
                              "--scenarios", "android-pipe16,ios-1024", tmp_path=tmp_path)
    rows = report["scenarios"]
    assert list(rows) == ["classic", "android-pipe16", "ios-1024"]
    classic = rows["classic"]
    assert classic["round_trips"] == classic["apdus"] > 100
    for name in ("android-pipe16", "ios-1024"):
        row = rows[name]
        assert row["round_trips"] * 3 < classic["round_trips"]
        assert row["ratio_to_classic"]["round_trips"] == row["round_trips"] / classic["round_trips"]
        assert row["seconds_to_result"]["0"] > 0
    assert rows["android-pipe16"]["apdus"] > rows["android-pipe16"]["round_trips"]
    assert "classic" in table and "android-pipe16" in table and report["machine"]["nproc"] >= 1


def test_capacity_runs_every_phase(tmp_path):
    table, report = run_bench("capacity.py", "--sessions", "4", "--cpu-sessions", "2", "--throughput-seconds", "0.5",
                              "--concurrency", "2", "--probes", "2", "--rtt", "0", "--chip-ms", "0",
                              tmp_path=tmp_path)
    assert report["cpu_ms_per_session"]["median"] > 0
    assert report["throughput"]["sessions"] >= 1 and report["throughput"]["failed"] == 0
    assert report["held"]["sessions"] == 4 and report["held"]["server_open_sessions"] >= 4
    assert report["latency_while_held"]["apdus"] > 0 and report["latency_while_held"]["sessions"] == 2
    assert report["release"]["succeeded"] == 4
    assert "memory per in-flight session" in table


def test_hostile_images_measures_the_genuine_session_alone_and_attacked(tmp_path):
    table, report = run_bench("hostile_images.py", "--hostile", "2", "--images", "3", "--pixels", "64",
                              "--rounds", "1", tmp_path=tmp_path)
    assert report["genuine_solo"]["median"] > 0 and report["genuine_attacked"]["median"] > 0
    assert report["ratio_median"] == report["genuine_attacked"]["median"] / report["genuine_solo"]["median"]
    # Validly signed: the face and up to the budget's images are converted, the rest named.
    alone = report["hostile_alone"]
    assert alone["face_photo"] and alone["signature_photos"] == 3 and alone["images_not_converted"] == 0
    assert report["hostile"]["sessions"] == 2 and report["hostile"]["closes"] == ["OK"]
    assert "ratio attacked/solo" in table
