"""Soak under faults: thousands of sessions against one DocVal server process over loopback.

    python bench/soak.py --sessions 2000 --concurrency 16

The server runs as a separate process (``tests.hostile.serve``: the real service
on 127.0.0.1:0 plus a state endpoint).  This process runs a Result Server
(twisted.web on 127.0.0.1:0) that fails some POSTs on purpose, and a mix of
phones: good phones on every virtual document, phones relaying hostile chips of
every catalogue category, hostile phones (protocol breakers, silent, drip-feeding)
and phones that vanish mid-session.  Checks:

* every session ended with the close its scenario demands (for hostile chips: what
  the reader does against the same chip directly, via ``docval.sim.direct``);
* every successful posting session was accepted by the Result Server exactly once,
  and nothing was posted for a failed session; a good document's posted result
  carries the PA/CA/AA verdicts its profile promises;
* after the run the server holds no session, no post, no session timer, and its
  open file descriptors and RSS are back at the warm-up baseline.

Prints one summary line; exits 1 when any check fails.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twisted.internet import defer, reactor, task  # noqa: E402
from twisted.web import resource, server  # noqa: E402

from docval.errors import close_for  # noqa: E402
from docval.reader import ReadParams  # noqa: E402
from docval.sim import profiles  # noqa: E402
from docval.sim.direct import read_sync  # noqa: E402
from docval.sim.phone import PhoneOptions, access_key_json, run_phone  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402
from tests.support import hostile_chips  # noqa: E402
from tests.support.hostile_phones import phone_behaviours, run_hostile_phone  # noqa: E402

TIMEOUTS = {"start_message": 2.0, "apdu_response": 2.0, "max_session": 20.0,
            "open_handshake": 2.0, "close_handshake": 1.0}
POSTING = "posting-client"
RETURNING = "YOUR CLIENT ID"

# Hostile chips in the mix: a few of every catalogue category (b3-b8).
CHIPS = ["garbage", "empty-response", "sod-absent", "wrong-length-6700", "longer-than-le",
         "card-access-malformed", "bad-mac", "replay", "bad-padding", "naked-sw",
         "sod-length-bomb", "zero-bytes-forever", "one-byte-at-a-time", "early-eof",
         "pace-point-off-curve", "pace-bad-token", "bac-bad-mac", "aa-bad-signature",
         "huge-dg15-key-signed", "dg14-unknown-curve", "sod-legacy-oid", "sod-sha1",
         "dg1-mismatch", "dg2-jp2-bomb", "dg11-latin1"]
SLOW_PHONES = {"silent", "never-answers", "drip-feed"}
# A chip that drip-feeds 1000+ one-byte reads may hit the session time limit before the
# per-file command cap when the machine is loaded: both are the defined outcome.
ALSO_ACCEPTED = {"one-byte-at-a-time": {(1011, "MAX_SESSION_TIME_EXCEEDED")}}


# ----------------------------------------------------------------------------- Result Server

class ResultServer(resource.Resource):
    """Accepts POSTs; ``postfail-*`` validations always get 500, ``postflaky-*`` a 503 first."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.bodies: dict[str, dict] = {}

    def render_POST(self, request: Any) -> bytes:
        body = json.loads(request.content.read())
        vid = body["client_validation_id"]
        if vid.startswith("postfail-") or (vid.startswith("postflaky-") and not self.refused[vid]):
            self.refused[vid] += 1
            request.setResponseCode(500 if vid.startswith("postfail-") else 503)
            return b"no"
        self.accepted[vid] += 1
        self.bodies[vid] = body["emrtd_passport"]
        return b"ok"


# ----------------------------------------------------------------------------- scenarios

@dataclass
class Scenario:
    kind: str
    name: str
    expect: tuple[int, str | None] | None      # None: the phone leaves, no close expected
    posts: int                                 # accepted posts the Result Server must see
    run: Callable[[str], defer.Deferred]
    also: frozenset = frozenset()              # other closes that are equally correct


_direct_cache: dict[str, tuple[int, str | None]] = {}


def direct_outcome(name: str) -> tuple[int, str | None]:
    """What the reader does against this hostile chip with no network at all."""
    if name not in _direct_cache:
        try:
            read_sync(hostile_chips.hostile_chip(name),
                      ReadParams(access_key=hostile_chips.access_key_for(name), extended_length=True))
            _direct_cache[name] = (1000, None)
        except Exception as exc:   # noqa: BLE001 - the close is what we compare
            close = close_for(exc)
            _direct_cache[name] = (close.code, close.reason)
    return _direct_cache[name]


def make_scenarios(port: int, rnd: random.Random) -> list[tuple[float, Callable[[], Scenario]]]:
    url = f"ws://127.0.0.1:{port}/ws1/validate"
    names = sorted(profiles.PROFILES)

    def good(posting: bool) -> Scenario:
        prof = profiles.get_profile(rnd.choice(names))
        opts = dict(access_key=access_key_json(prof.access_key),
                    client_id=POSTING if posting else RETURNING, return_result=not posting,
                    max_pipelined_apdus=rnd.choice([None, 4]))
        return Scenario("good", prof.name, (1000, None), 1 if posting else 0,
                        lambda vid: run_phone(url, prof.chip(), PhoneOptions(validation_id=vid, **opts),
                                              reactor=reactor))

    def post_fault(always: bool) -> Scenario:
        prof = profiles.get_profile("pace-ecdh-gm-aes128")
        opts = PhoneOptions(access_key=access_key_json(prof.access_key), client_id=POSTING)
        expect = (1011, "POST_TO_RESULT_SERVER_FAILED") if always else (1000, None)

        def go(vid: str) -> defer.Deferred:
            opts.validation_id = vid
            return run_phone(url, prof.chip(), opts, reactor=reactor)
        return Scenario("postfail" if always else "postflaky", prof.name, expect, 0 if always else 1, go)

    def chip() -> Scenario:
        name = rnd.choice(CHIPS)
        expect = direct_outcome(name)
        key = access_key_json(hostile_chips.access_key_for(name))
        return Scenario("chip", name, expect, 1 if expect == (1000, None) else 0,
                        lambda vid: run_phone(url, hostile_chips.hostile_chip(name, seed=rnd.randrange(1 << 30)),
                                              PhoneOptions(access_key=key, client_id=POSTING, validation_id=vid),
                                              reactor=reactor),
                        frozenset(ALSO_ACCEPTED.get(name, ())))

    def phone(slow: bool) -> Scenario:
        prof = profiles.get_profile("pace-ecdh-gm-aes128")
        behaviours = phone_behaviours(access_key_json(prof.access_key), apdu_timeout=TIMEOUTS["apdu_response"])
        pool = [b for n, b in behaviours.items() if (n in SLOW_PHONES) == slow]
        behaviour = rnd.choice(pool)
        if behaviour.name == "disconnect":
            behaviour.after = rnd.randint(1, 10)

        def go(vid: str) -> defer.Deferred:
            if behaviour.start is not None:
                behaviour.start = dict(behaviour.start, client_id=behaviour.start["client_id"]
                                       if behaviour.start["client_id"] == "guess" else POSTING, validation_id=vid)
            return run_hostile_phone(reactor, "127.0.0.1", port, behaviour, chip=prof.chip())
        return Scenario("phone", behaviour.name, behaviour.expect, 0, go)

    return [
        (0.38, lambda: good(True)),
        (0.10, lambda: good(False)),
        (0.04, lambda: post_fault(True)),
        (0.04, lambda: post_fault(False)),
        (0.28, chip),
        (0.13, lambda: phone(False)),
        (0.03, lambda: phone(True)),
    ]


def pick(table: list[tuple[float, Callable[[], Scenario]]], rnd: random.Random) -> Scenario:
    x = rnd.random() * sum(w for w, _ in table)
    for weight, make in table:
        x -= weight
        if x <= 0:
            return make()
    return table[-1][1]()


def outcome_of(record: Any) -> tuple[int | None, str | None]:
    return record.close_code, record.close_reason


# ----------------------------------------------------------------------------- the run

async def soak(args: argparse.Namespace, proc: ServerProcess, results: ResultServer) -> dict[str, Any]:
    rnd = random.Random(args.seed)
    table = make_scenarios(proc.port, rnd)
    for name in CHIPS:                       # expectations first: they cost CPU, not sessions
        direct_outcome(name)
    state = await threads_state(proc)
    summary: dict[str, Any] = {"wrong_outcome": [], "lost": [], "duplicated": [], "wrongly_posted": [],
                               "wrong_result": []}
    expected_verdicts: dict[str, Any] = {}
    done = Counter()
    by_kind: defaultdict[str, Counter] = defaultdict(Counter)
    expected_posts: dict[str, int] = {}
    semaphore = defer.DeferredSemaphore(args.concurrency)

    async def one(i: int) -> None:
        scenario = pick(table, rnd)
        vid = f"{scenario.kind}-{i}-{scenario.name}"
        expected_posts[vid] = scenario.posts
        if scenario.kind == "good" and scenario.posts:
            expected_verdicts[vid] = profiles.get_profile(scenario.name).expect
        try:
            record = await scenario.run(vid)
            got = outcome_of(record)
        except Exception as exc:   # noqa: BLE001
            got = (None, f"client error {type(exc).__name__}")
        want = scenario.expect
        # Autobahn's own protocol closes (1002/1007/1009) carry a free-text reason: the code counts.
        ok = want is None or got == want or got in scenario.also \
            or (want[1] is None and want[0] != 1000 and got[0] == want[0])
        if not ok:
            summary["wrong_outcome"].append((vid, scenario.expect, got))
        done["sessions"] += 1
        by_kind[scenario.kind]["ok" if ok else "wrong"] += 1

    warmup = min(args.warmup, args.sessions)
    await defer.gatherResults([semaphore.run(lambda i=i: defer.ensureDeferred(one(i))) for i in range(warmup)])
    await settle(proc)
    baseline = await threads_state(proc)
    started = time.monotonic()
    await defer.gatherResults([semaphore.run(lambda i=i: defer.ensureDeferred(one(i)))
                               for i in range(warmup, args.sessions)])
    elapsed = time.monotonic() - started
    # posts under way finish; the server drops every session
    final = await settle(proc)
    await task.deferLater(reactor, 1.0, lambda: None)
    final = await threads_state(proc)
    for vid, want in expected_posts.items():
        got = results.accepted[vid]
        if want and got == 0:
            summary["lost"].append(vid)
        elif want and got > 1:
            summary["duplicated"].append(vid)
        elif not want and got:
            summary["wrongly_posted"].append(vid)
    for vid, expect in expected_verdicts.items():
        body = results.bodies.get(vid)
        if body is not None and (body["passive_authentication"], body["chip_authentication_result"],
                                 body["active_authentication_result"]) != (
                expect.passive_authentication, expect.chip_authentication, expect.active_authentication):
            summary["wrong_result"].append(vid)
    summary.update(sessions=done["sessions"], by_kind={k: dict(v) for k, v in by_kind.items()},
                   initial=state, baseline=baseline, final=final, elapsed=elapsed,
                   measured_sessions=args.sessions - warmup)
    return summary


async def threads_state(proc: ServerProcess) -> dict:
    from twisted.internet.threads import deferToThread
    return await deferToThread(proc.state)


async def settle(proc: ServerProcess, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = await threads_state(proc)
        if (state["sessions"] == 0 and state["posts"] == 0 and state["session_calls"] == 0) \
                or time.monotonic() > deadline:
            return state
        await task.deferLater(reactor, 0.2, lambda: None)


def verdict(summary: dict[str, Any], rss_tolerance_kb: int) -> list[str]:
    problems = []
    for key in ("wrong_outcome", "lost", "duplicated", "wrongly_posted", "wrong_result"):
        if summary[key]:
            problems.append(f"{key}: {summary[key][:5]}")
    base, final = summary["baseline"], summary["final"]
    for key in ("sessions", "posts", "session_calls"):
        if final[key] != 0:
            problems.append(f"server still holds {final[key]} {key}: {final.get('delayed_call_names')}")
    # Idle keep-alive connections to the Result Server are the poster's pool, not a leak.
    if final["fds"] - final["pool_connections"] > base["fds"] - base["pool_connections"]:
        problems.append(f"open fds {base['fds']} -> {final['fds']}")
    if final["rss_kb"] - base["rss_kb"] > rss_tolerance_kb:
        problems.append(f"RSS {base['rss_kb']} -> {final['rss_kb']} kB")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=100, help="sessions before the baseline is taken")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rss-tolerance-kb", type=int, default=16384)
    parser.add_argument("--json", action="store_true", help="print the full summary as JSON too")
    args = parser.parse_args(argv)

    results = ResultServer()
    site = server.Site(results)
    result_port = reactor.listenTCP(0, site, interface="127.0.0.1").getHost().port
    proc = ServerProcess(timeouts=TIMEOUTS, result_url=f"http://127.0.0.1:{result_port}/results",
                         max_connections=max(100, 4 * args.concurrency))
    outcome: dict[str, Any] = {}

    def run() -> defer.Deferred:
        d = defer.ensureDeferred(soak(args, proc, results))
        d.addCallback(outcome.update)
        d.addErrback(lambda f: outcome.update(error=f.getTraceback()))
        d.addBoth(lambda _: reactor.stop())
        return d

    reactor.callWhenRunning(run)
    try:
        reactor.run()
    finally:
        log = proc.log()
        proc.stop()
    if "error" in outcome:
        print(outcome["error"], file=sys.stderr)
        return 1
    problems = verdict(outcome, args.rss_tolerance_kb)
    if "Traceback" in log:
        problems.append("traceback in the server log")
    base, final = outcome["baseline"], outcome["final"]
    print(
        f"soak: sessions={outcome['sessions']} measured={outcome['measured_sessions']} "
        f"elapsed={outcome['elapsed']:.1f}s kinds={json.dumps(outcome['by_kind'], sort_keys=True)} "
        f"wrong_outcome={len(outcome['wrong_outcome'])} lost={len(outcome['lost'])} "
        f"duplicated={len(outcome['duplicated'])} wrongly_posted={len(outcome['wrongly_posted'])} "
        f"wrong_result={len(outcome['wrong_result'])} "
        f"posts_accepted={sum(results.accepted.values())} posts_refused={sum(results.refused.values())} "
        f"rss_kb={base['rss_kb']}->{final['rss_kb']} fds={base['fds']}->{final['fds']} "
        f"(pool {base['pool_connections']}->{final['pool_connections']}) "
        f"session_timers={final['session_calls']} open_sessions={final['sessions']} "
        f"{'OK' if not problems else 'FAILED'}"
    )
    if args.json:
        print(json.dumps({k: v for k, v in outcome.items()}, default=str, indent=1))
    for problem in problems:
        print("  problem:", problem, file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
