"""tests/testdata.py: without the data set exactly the marked tests skip, with one reason that
names DOCVAL_TESTDATA; with DOCVAL_TESTDATA_REQUIRED a skipped data test fails the run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = """
from tests.testdata import (pytest_collection_modifyitems, pytest_configure,
    pytest_runtest_logreport, pytest_runtest_makereport, pytest_sessionfinish,
    pytest_terminal_summary)
"""
TESTS = """
import pytest
from tests.testdata import TESTDATA

@pytest.mark.testdata
def test_reads_the_data_set():
    assert TESTDATA.is_dir()
    if (TESTDATA / "skip-me").exists():
        pytest.skip("something else is missing")

@pytest.mark.testdata
def test_reads_it_too():
    assert TESTDATA.is_dir()

def test_needs_nothing():
    assert True
"""


def run(tmp_path: Path, data: Path, required: bool = False) -> subprocess.CompletedProcess:
    (tmp_path / "suite").mkdir(exist_ok=True)
    (tmp_path / "suite" / "conftest.py").write_text(CONFTEST)
    (tmp_path / "suite" / "test_some.py").write_text(TESTS)
    env = dict(os.environ, DOCVAL_TESTDATA=str(data), PYTHONPATH=str(ROOT))
    env.pop("DOCVAL_TESTDATA_REQUIRED", None)
    if required:
        env["DOCVAL_TESTDATA_REQUIRED"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path / "suite"), str(tmp_path / "suite")],
        cwd=tmp_path / "suite", env=env, capture_output=True, text=True, timeout=120)


def test_without_the_data_set_only_marked_tests_skip_with_one_reason(tmp_path):
    r = run(tmp_path, tmp_path / "nowhere")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 2 skipped" in r.stdout
    skipped = [line for line in r.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "[2]" in skipped[0] and "set DOCVAL_TESTDATA" in skipped[0], skipped


def test_with_the_data_set_the_marked_tests_run(tmp_path):
    (tmp_path / "data").mkdir()
    r = run(tmp_path, tmp_path / "data", required=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout


def test_required_fails_when_a_data_test_was_skipped(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "skip-me").touch()
    r = run(tmp_path, tmp_path / "data", required=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "skipped although DOCVAL_TESTDATA_REQUIRED is set" in r.stdout
    assert "test_reads_the_data_set" in r.stdout


def test_required_without_the_data_set_is_a_usage_error(tmp_path):
    r = run(tmp_path, tmp_path / "nowhere", required=True)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "DOCVAL_TESTDATA" in r.stderr
