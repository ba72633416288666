from __future__ import annotations

import inspect

import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import task
from twisted.internet.threads import deferToThread

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
    assert s[("docval_sessions_started_total", (("protocol", "v1"),))] == 5
    assert s[("docval_sessions_finished_total", (("close_reason", "none"), ("outcome", "success"), ("protocol", "v1")))] == 3
    assert s[("docval_sessions_finished_total",
              (("close_reason", "ACCESS_CONTROL_FAILED"), ("outcome", "failure"), ("protocol", "v1")))] == 1
    assert s[("docval_sessions_current", ())] == 1
    # Every failure series exists at zero before it first happens.
    assert s[("docval_sessions_finished_total",
              (("close_reason", "SERVER_ERROR"), ("outcome", "failure"), ("protocol", "v1")))] == 0


def test_labels_are_closed_sets() -> None:
    m = Metrics()
    m.session_started()
    m.session_finished("L898902C<", "P<UTOERIKSSON<<ANNA")      # hostile or buggy caller
    m.step_duration("READ_DG1 of ERIKSSON", 0.5)
    text = m.render().decode()
    assert "ERIKSSON" not in text and "L898902C" not in text
    s = samples(m)
    assert s[("docval_sessions_finished_total", (("close_reason", "other"), ("outcome", "other"), ("protocol", "v1")))] == 1
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
    m.declare_clients(["acme", "client-0123abcd"])
    s = samples(m)
    # Every configured client's series exist at zero before the first post.
    for name in ("acme", "client-0123abcd"):
        for result in ("ok", "failed"):
            assert s[("docval_result_post_attempts_total", (("client", name), ("result", result)))] == 0
            assert s[("docval_result_deliveries_total", (("client", name), ("result", result)))] == 0
    m.post_attempt(False, "acme")
    m.post_attempt(False, "acme")
    m.post_attempt(True, "acme")
    m.result_delivery(True, "acme")
    m.post_attempt(True, "not-configured")     # never a new label value
    m.result_delivery(False, "not-configured")
    m.set_trust_store(412, "a" * 200)
    s = samples(m)
    assert s[("docval_result_post_attempts_total", (("client", "acme"), ("result", "failed")))] == 2
    assert s[("docval_result_post_attempts_total", (("client", "acme"), ("result", "ok")))] == 1
    assert s[("docval_result_deliveries_total", (("client", "acme"), ("result", "ok")))] == 1
    assert s[("docval_result_post_attempts_total", (("client", "other"), ("result", "ok")))] == 1
    assert s[("docval_result_deliveries_total", (("client", "other"), ("result", "failed")))] == 1
    assert not any(labels and ("client", "not-configured") in labels for _, labels in s)
    assert s[("docval_trust_store_certificates", ())] == 412
    assert s[("docval_trust_store_info", (("version", "a" * 64),))] == 1
    m.set_trust_store(3, "v2")
    s = samples(m)
    assert s[("docval_trust_store_certificates", ())] == 3
    assert ("docval_trust_store_info", (("version", "a" * 64),)) not in s


def test_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.session_started()
    assert samples(b)[("docval_sessions_started_total", (("protocol", "v1"),))] == 0
    assert samples(a)[("docval_sessions_started_total", (("protocol", "v1"),))] == 1


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
    n.declare_clients(["a"])
    n.post_attempt(True, "a")
    n.result_delivery(True, "a")
    n.set_trust_store(1, "x")
    assert n.render() == b""


@pytest_twisted.ensureDeferred
async def test_counters_after_real_sessions_of_mixed_outcomes():
    """The server's own calls: N sessions over real sockets, then the scraped counters."""
    from twisted.internet import reactor

    from docval import tap
    from docval.config import AdminConfig, ClientConfig, Config, ServerConfig, TrustConfig
    from docval.sim import profiles
    from docval.sim.phone import PhoneOptions, access_key_json, run_phone

    config = Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
        trust=TrustConfig(demo_csca=True, reload_interval=0),
        admin=AdminConfig(listen=("tcp:0:interface=127.0.0.1",)),
        clients=(ClientConfig(client_id="metrics-test"),),
    )
    service = tap.DocValService(config, reactor)
    service.startService()
    try:
        admin = next(s for s in service if getattr(s, "name", None) == "docval-admin")
        admin_port = (await admin.when_listening()).getHost().port
        url = f"ws://127.0.0.1:{service.listeners[0].port.getHost().port}/ws1/validate"

        async def session(profile: str, client_id: str = "metrics-test", **key) -> int:
            p = profiles.get_profile(profile)
            options = PhoneOptions(access_key={**access_key_json(p.access_key), **key},
                                   client_id=client_id, return_result=True)
            record = await run_phone(url, p.chip(), options, reactor=reactor)
            return record.close_code

        codes = [await session("pace-ecdh-gm-aes128") for _ in range(3)]
        codes.append(await session("untrusted"))          # completes: PA false is a result
        codes += [await session("pace-ecdh-gm-aes128", client_id="someone else") for _ in range(2)]
        codes.append(await session("pace-ecdh-gm-aes128", document_number="ZZ0000000"))
        assert codes == [1000] * 4 + [4401] * 2 + [4403]

        for _ in range(100):    # the server counts a session once its close completes
            text = (await deferToThread(scrape, admin_port)).decode()
            if "docval_sessions_current 0.0" in text:
                break
            await task.deferLater(reactor, 0.01, lambda: None)
        s = parse(text)
        assert s[("docval_sessions_started_total", (("protocol", "v1"),))] == 7
        assert s[("docval_sessions_current", ())] == 0
        finished = {labels: v for (name, labels), v in s.items()
                    if name == "docval_sessions_finished_total" and v}
        assert finished == {
            (("close_reason", "none"), ("outcome", "success"), ("protocol", "v1")): 4,
            (("close_reason", "INVALID_CLIENT_ID"), ("outcome", "failure"), ("protocol", "v1")): 2,
            (("close_reason", "ACCESS_CONTROL_FAILED"), ("outcome", "failure"), ("protocol", "v1")): 1,
        }
        assert s[("docval_step_duration_seconds_count", (("step", "PASSIVE_AUTHENTICATION"),))] == 4
        assert s[("docval_apdu_round_trip_seconds_count", ())] > 4 * 10
        assert s[("docval_trust_store_certificates", ())] == 1
        # Nothing of the documents in any label or value.
        assert "DV7Q31K52" not in text and "TRAVELLER" not in text
    finally:
        await service.stopService()


def scrape(port: int) -> bytes:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read()


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out
