from __future__ import annotations

import inspect

from prometheus_client.parser import text_string_to_metric_families

from docval.errors import ALL_REASONS
from docval.metrics import CLOSE_REASONS, STEPS, Metrics, NullMetrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the rendered text independently of the registry that produced it."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode("utf-8")):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_sessions_counted_by_outcome_and_reason() -> None:
    m = Metrics()
    for _ in range(5):
        m.session_started()
    for _ in range(3):
        m.session_finished("success", None)
    m.session_finished("failure", "ACCESS_CONTROL_FAILED")
    s = samples(m)
    assert s[("docval_sessions_started_total", ())] == 5
    assert s[("docval_sessions_finished_total", (("close_reason", "none"), ("outcome", "success")))] == 3
    assert s[("docval_sessions_finished_total",
              (("close_reason", "ACCESS_CONTROL_FAILED"), ("outcome", "failure")))] == 1
    assert s[("docval_sessions_current", ())] == 1
    # Every failure series exists at zero before it first happens.
    assert s[("docval_sessions_finished_total",
              (("close_reason", "SERVER_ERROR"), ("outcome", "failure")))] == 0


def test_labels_are_closed_sets() -> None:
    m = Metrics()
    m.session_started()
    m.session_finished("L898902C<", "P<UTOERIKSSON<<ANNA")      # hostile or buggy caller
    m.step_duration("READ_DG1 of ERIKSSON", 0.5)
    text = m.render().decode()
    assert "ERIKSSON" not in text and "L898902C" not in text
    s = samples(m)
    assert s[("docval_sessions_finished_total", (("close_reason", "other"), ("outcome", "other")))] == 1
    assert s[("docval_step_duration_seconds_count", (("step", "other"),))] == 1
    assert set(CLOSE_REASONS) == {"none", *ALL_REASONS}


def test_step_and_apdu_histograms() -> None:
    m = Metrics()
    m.step_duration("ACCESS_CONTROL", 0.3)
    m.step_duration("ACCESS_CONTROL", 1.7)
    m.step_duration("PASSIVE_AUTHENTICATION", 0.02)
    for _ in range(4):
        m.apdu_round_trip(0.004)
    m.apdu_round_trip(0.2)
    s = samples(m)
    assert s[("docval_step_duration_seconds_count", (("step", "ACCESS_CONTROL"),))] == 2
    assert abs(s[("docval_step_duration_seconds_sum", (("step", "ACCESS_CONTROL"),))] - 2.0) < 1e-9
    assert s[("docval_step_duration_seconds_bucket", (("le", "0.5"), ("step", "ACCESS_CONTROL")))] == 1
    assert s[("docval_apdu_round_trip_seconds_count", ())] == 5
    assert s[("docval_apdu_round_trip_seconds_bucket", (("le", "0.005"),))] == 4
    assert "POST_RESULT" in STEPS


def test_posts_and_trust_store() -> None:
    m = Metrics()
    m.post_attempt(False)
    m.post_attempt(False)
    m.post_attempt(True)
    m.set_trust_store(412, "a" * 200)
    s = samples(m)
    assert s[("docval_result_post_attempts_total", (("result", "failed"),))] == 2
    assert s[("docval_result_post_attempts_total", (("result", "ok"),))] == 1
    assert s[("docval_trust_store_certificates", ())] == 412
    assert s[("docval_trust_store_info", (("version", "a" * 64),))] == 1
    m.set_trust_store(3, "v2")
    s = samples(m)
    assert s[("docval_trust_store_certificates", ())] == 3
    assert ("docval_trust_store_info", (("version", "a" * 64),)) not in s


def test_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.session_started()
    assert samples(b)[("docval_sessions_started_total", ())] == 0
    assert samples(a)[("docval_sessions_started_total", ())] == 1


def test_null_metrics_has_the_same_interface() -> None:
    n = NullMetrics()
    for name, member in inspect.getmembers(Metrics, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert inspect.signature(getattr(NullMetrics, name)) == inspect.signature(member), name
    n.session_started()
    n.session_finished("success", None)
    n.step_duration("DONE", 1.0)
    n.apdu_round_trip(0.1)
    n.post_attempt(True)
    n.set_trust_store(1, "x")
    assert n.render() == b""
