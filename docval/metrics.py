"""Prometheus metrics of one DocVal process, served by the admin endpoint (docval.admin).

Every label takes its value from a closed set: an operator's dashboard must never reveal
anything about a document, and an unbounded label would let a hostile phone grow the
process's memory. Values outside a set are counted under ``other`` rather than raised,
because a metrics call must never break a session.

Each :class:`Metrics` owns its own ``CollectorRegistry`` (never the global one) so that
several services in one process, and tests, do not clash.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from docval.errors import ALL_REASONS
from docval.status import Status

if TYPE_CHECKING:
    from docval.trust.store import TrustStore

CONTENT_TYPE = CONTENT_TYPE_LATEST

OTHER = "other"

#: Session outcomes: closed with 1000 after DONE, or closed with a reason.
OUTCOMES = ("success", "failure")

#: ``protocol`` label values: the WebSocket API a session speaks (/ws1/validate, /ws2/validate).
PROTOCOLS = ("v1", "v2")

#: ``close_reason`` label values: the close reasons of docs/websocket-api.md, ``none`` for success.
CLOSE_REASONS = ("none",) + ALL_REASONS

#: ``step`` label values: the status names of docs/websocket-api.md (DONE is a moment, not a step)
#: plus the result post.
STEPS = tuple(s.value for s in Status if s is not Status.DONE) + ("POST_RESULT",)

# Chip steps take tens of milliseconds (a file read) to several seconds (PACE on a slow
# chip behind a 1 s NFC timeout); the session limit is 90 s by default.
_STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# One APDU through the phone: a few ms on loopback, up to seconds over mobile networks.
_APDU_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15)


def _closed(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


class Metrics:
    """The process's counters; the session code calls these methods, the admin endpoint renders them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._started = Counter(
            "docval_sessions_started", "WebSocket sessions accepted, by API version.", ["protocol"],
            registry=r,
        )
        self._finished = Counter(
            "docval_sessions_finished",
            "Sessions ended, by API version, outcome and close reason ('none' on success).",
            ["protocol", "outcome", "close_reason"],
            registry=r,
        )
        self._current = Gauge(
            "docval_sessions_current", "Sessions open right now.", registry=r
        )
        self._steps = Histogram(
            "docval_step_duration_seconds",
            "Duration of each session step (the status names sent to the phone).",
            ["step"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self._apdu = Histogram(
            "docval_apdu_round_trip_seconds",
            "Time from sending a command APDU to the phone until its response arrived.",
            buckets=_APDU_BUCKETS,
            registry=r,
        )
        self._posts = Counter(
            "docval_result_post_attempts",
            "HTTP attempts to post a result to a Result Server, by client name and result.",
            ["client", "result"],
            registry=r,
        )
        self._deliveries = Counter(
            "docval_result_deliveries",
            "Results delivered to a Result Server (after retries) or given up, by client name.",
            ["client", "result"],
            registry=r,
        )
        # The configured client names (declare_clients); others count as 'other'.
        self._client_names: tuple[str, ...] = ()
        self._trust_size = Gauge(
            "docval_trust_store_certificates", "CSCA certificates in the loaded trust store.",
            registry=r,
        )
        self._trust_info = Info(
            "docval_trust_store", "Version of the loaded trust store.", registry=r
        )
        # Computed at scrape time: a CRL goes stale between two reloads of the store.
        self._stale_crls = Gauge(
            "docval_trust_store_stale_crls",
            "CSCAs whose newest loaded CRL is past its nextUpdate: revocation of their "
            "document signers is not checked until a current CRL is loaded.",
            registry=r,
        )
        self._crl_next_update = Gauge(
            "docval_trust_store_crl_next_update_timestamp_seconds",
            "Earliest nextUpdate (Unix time) among the newest CRL of each CSCA; NaN without CRLs.",
            registry=r,
        )
        self._stale_crls.set(0)
        self._crl_next_update.set(float("nan"))
        # Zero-valued series exist from the start, so rate() and alerts work before the
        # first failure rather than seeing a series appear out of nowhere.
        for protocol in PROTOCOLS:
            self._started.labels(protocol=protocol)
            for outcome, reason in (("success", "none"),) + tuple(
                ("failure", reason) for reason in ALL_REASONS
            ):
                self._finished.labels(protocol=protocol, outcome=outcome, close_reason=reason)

    def declare_clients(self, names: "list[str] | tuple[str, ...]") -> None:
        """The configured clients' names: the only ``client`` label values besides ``other``.

        Their series start at zero, so an alert on failed deliveries works before the first one.
        """
        self._client_names = tuple(names)
        for name in self._client_names:
            for result in ("ok", "failed"):
                self._posts.labels(client=name, result=result)
                self._deliveries.labels(client=name, result=result)

    def session_started(self, protocol: str = "v1") -> None:
        self._started.labels(protocol=_closed(protocol, PROTOCOLS)).inc()
        self._current.inc()

    def session_finished(self, outcome: str, close_reason: str | None, protocol: str = "v1") -> None:
        self._finished.labels(
            protocol=_closed(protocol, PROTOCOLS),
            outcome=_closed(outcome, OUTCOMES),
            close_reason=_closed(close_reason or "none", CLOSE_REASONS),
        ).inc()
        self._current.dec()

    def step_duration(self, step: str, seconds: float) -> None:
        self._steps.labels(step=_closed(step, STEPS)).observe(max(0.0, seconds))

    def apdu_round_trip(self, seconds: float) -> None:
        self._apdu.observe(max(0.0, seconds))

    def post_attempt(self, ok: bool, client: str = OTHER) -> None:
        self._posts.labels(client=_closed(client, self._client_names),
                           result="ok" if ok else "failed").inc()

    def result_delivery(self, ok: bool, client: str = OTHER) -> None:
        self._deliveries.labels(client=_closed(client, self._client_names),
                                result="ok" if ok else "failed").inc()

    def set_trust_store(self, count: int, version: str) -> None:
        self._trust_size.set(count)
        # The version is an operator-chosen or computed identifier of the CSCA set, not
        # session data; capped so a strange file name cannot bloat every scrape.
        self._trust_info.info({"version": str(version)[:64]})

    def watch_crls(self, store: TrustStore, clock: Callable[[], float] = time.time) -> None:
        """Report the CRL freshness of ``store`` (the trust store in use) at every scrape."""
        def stale() -> float:
            return float(len(store.stale_crls(datetime.fromtimestamp(clock(), timezone.utc))))

        def next_update() -> float:
            when = store.next_crl_update()
            return when.timestamp() if when is not None else float("nan")

        self._stale_crls.set_function(stale)
        self._crl_next_update.set_function(next_update)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class NullMetrics:
    """The same interface doing nothing: the default when no admin endpoint is configured."""

    def session_started(self, protocol: str = "v1") -> None:
        pass

    def session_finished(self, outcome: str, close_reason: str | None, protocol: str = "v1") -> None:
        pass

    def step_duration(self, step: str, seconds: float) -> None:
        pass

    def apdu_round_trip(self, seconds: float) -> None:
        pass

    def declare_clients(self, names: "list[str] | tuple[str, ...]") -> None:
        pass

    def post_attempt(self, ok: bool, client: str = OTHER) -> None:
        pass

    def result_delivery(self, ok: bool, client: str = OTHER) -> None:
        pass

    def set_trust_store(self, count: int, version: str) -> None:
        pass

    def watch_crls(self, store: TrustStore, clock: Callable[[], float] = time.time) -> None:
        pass

    def render(self) -> bytes:
        return b""
