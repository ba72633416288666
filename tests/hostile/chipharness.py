"""Run the reader against a hostile chip and capture the outcome, as the server would see it."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from docval.errors import Close, close_for
from docval.reader import ReadParams
from docval.result import Report
from docval.sim.direct import ChipTransport, read_sync
from tests.support.hostile_chips import HostileChip, access_key_for, hostile_chip


@dataclass
class Outcome:
    chip: HostileChip
    transport: ChipTransport
    report: Report | None
    exc: BaseException | None
    seconds: float
    statuses: list[str]

    @property
    def close(self) -> Close | None:
        return close_for(self.exc) if self.exc is not None else None

    @property
    def result(self) -> dict[str, Any]:
        assert self.report is not None, f"session failed: {self.exc!r}"
        return self.report.to_emrtd_passport()

    @property
    def errors(self) -> list[str]:
        return self.result["errors"]


def run_chip(chip: Any, access_key: Any, trust: Any = None, **params: Any) -> Outcome:
    transport = ChipTransport(chip)
    statuses: list[str] = []
    p = ReadParams(access_key=access_key, extended_length=params.pop("extended_length", True),
                   trust=trust, **params)
    start = time.perf_counter()
    report = exc = None
    try:
        report = read_sync(chip, p, statuses.append, transport=transport)
    except Exception as e:   # noqa: BLE001 - the outcome is what the test asserts
        exc = e
    return Outcome(chip, transport, report, exc, time.perf_counter() - start, statuses)


def run_hostile(name: str, trust: Any = None, profile: str | None = None, **params: Any) -> Outcome:
    chip = hostile_chip(name, profile)
    return run_chip(chip, access_key_for(name, profile), trust, **params)


def assert_closed(outcome: Outcome, reason: str, exc_type: type[BaseException] | None = None) -> None:
    assert outcome.exc is not None, f"expected {reason}, the session succeeded: {outcome.report}"
    if exc_type is not None:
        assert isinstance(outcome.exc, exc_type), repr(outcome.exc)
    assert outcome.close.reason == reason, (outcome.close, repr(outcome.exc))
