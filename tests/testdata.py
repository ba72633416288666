"""The one place that locates the real-document data set the tests can use.

Real passports' EF.SOD files, master lists, the ICAO specimen and recorded chip files are
public test material, but they are not part of this repository.  ``DOCVAL_TESTDATA`` names
their directory; without it, a ``shared/testdata`` directory beside the repository is used
when it exists.  Tests that need the files carry the ``testdata`` marker: without the data
set they skip with one reason that names the variable, and everything else still runs.

Nothing here reads a file at import time, so a module that uses the data set can always be
collected; read the files inside the tests (or through ``functools.lru_cache`` helpers).

With ``DOCVAL_TESTDATA_REQUIRED=1`` (set by ``.ci/run`` when the data set is present) a run in
which any ``testdata`` test was skipped fails, so CI cannot pass by skipping them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV = "DOCVAL_TESTDATA"
REQUIRED_ENV = "DOCVAL_TESTDATA_REQUIRED"
MARKER = "testdata"

ROOT = Path(__file__).resolve().parents[1]


def locate() -> Path:
    value = os.environ.get(ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return (ROOT.parent / "shared" / "testdata").resolve()


TESTDATA = locate()
SPECIMEN = TESTDATA / "icao_specimen"
MASTER_LISTS = TESTDATA / "master_lists"

_REASON_LINE = 41   # where SKIP_REASON is written, for the summary line
SKIP_REASON = (f"needs the real-document data set: set {ENV} to its directory "
               f"(not found: {TESTDATA})")

needs_testdata = pytest.mark.testdata


def available() -> bool:
    return TESTDATA.is_dir()


def required() -> bool:
    return os.environ.get(REQUIRED_ENV, "") not in ("", "0")


# ---------------------------------------------------------------------------- pytest hooks
# tests/conftest.py re-exports these, so they act for the whole suite.

_skipped: list[str] = []


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: needs the real-document data set (${ENV})")
    if required() and not available():
        raise pytest.UsageError(f"{REQUIRED_ENV} is set but {ENV} ({TESTDATA}) is not a directory")


def pytest_collection_modifyitems(config, items) -> None:
    if available():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker(MARKER) is not None:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # pytest files a skip under each test's own line, so a clone without the data set would
    # list one line per test; file them all under this module: one line, one reason.
    outcome = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3 \
            and str(longrepr[2]).endswith(SKIP_REASON):
        report.longrepr = (str(Path(__file__).relative_to(ROOT)), _REASON_LINE, longrepr[2])


def pytest_runtest_logreport(report) -> None:
    if report.skipped and MARKER in report.keywords:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    if required() and _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if required() and _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) needing the data set were skipped although "
            f"{REQUIRED_ENV} is set ({ENV}={TESTDATA}):", red=True)
        for nodeid in _skipped[:20]:
            terminalreporter.write_line(f"  {nodeid}")
