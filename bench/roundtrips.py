"""Round trips, bytes and time-to-result per phone scenario, against the classic reader.

    python bench/roundtrips.py [--rtts 0,50,150] [--repeat 1] [--chip-ms 10] [--json FILE]

Runs the real server (docval.tap.DocValService on 127.0.0.1:<ephemeral>) and a
virtual phone over loopback for the reference document (``pace-ecdh-gm-aes128``).
The phone delays every APDU by half the RTT each way and spends ``--chip-ms`` per
APDU in the chip, strictly one APDU at a time like the official SDKs.  Every
figure comes with its ratio to the classic strategy (JMRTD-like: SELECT by FID,
8-byte header read, 223-byte chunks, one APDU per round trip) measured in the
same run, on the same phone as the Android-like scenario.

The v2 scenarios (``v2-android``, ``v2-ios``; bench/v2.py) run the WebSocket API v2
phone against /ws2/validate of the same server: the phone reads the chip itself
(``--chip-ms`` per APDU, no network time) and the network carries only START/ACCEPT,
the Chip Authentication relay, the files and FINISH/RESULT.  Their ``RTs`` are the
times the phone waited for the server (bench/v2.py), ``APDUs`` the relayed ones,
bytes every WebSocket message payload each way except the RESULT (v1's figures
count the relay only; the RESULT's size is reported on its own).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import REFERENCE_PROFILE, SCENARIOS, Scenario, phone_session, start_server  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.v2 import V2_SCENARIOS, V2Scenario, start_phone_v2, v2_url, verified  # noqa: E402

COUNT_FIELDS = ("round_trips", "apdus", "bytes_to_phone", "bytes_from_phone")


class SessionFailed(RuntimeError):
    pass


def _check(scenario: Scenario, run: Any) -> None:
    """A fast read that reads wrongly is worth nothing: every run must fully verify."""
    record = run.record
    result = record.result or {}
    ok = (record.succeeded and run.seconds_to_result is not None
          and result.get("passive_authentication") is True
          and result.get("chip_authentication_result") == "SUCCESS"
          and result.get("active_authentication_result") == "SUCCESS"
          and not result.get("errors"))
    if not ok:
        raise SessionFailed(f"{scenario.name}: session did not verify: {record!r} errors={result.get('errors')}")


async def measure(reactor: Any, rtts_ms: list[float], repeat: int, chip_ms: float,
                  scenarios: tuple[Scenario, ...] = SCENARIOS, profile_name: str = REFERENCE_PROFILE) -> dict[str, Any]:
    from docval.sim.profiles import get_profile

    profile = get_profile(profile_name)
    profile.chip()   # builds and caches the document's keys and files before timing
    servers = {}
    for classic in (False, True):
        servers[classic] = start_server(reactor, classic=classic)
    rows: dict[str, dict[str, Any]] = {}
    try:
        for scenario in scenarios:
            service, url, stats = servers[scenario.classic]
            if isinstance(scenario, V2Scenario):
                rows[scenario.name] = await _measure_v2(reactor, v2_url(url), scenario, profile,
                                                        rtts_ms, repeat, chip_ms)
                continue
            counts: list[Any] = []
            times: dict[str, list[float]] = {}
            for rtt in rtts_ms:
                for _ in range(repeat):
                    options = scenario.options(profile, rtt=rtt / 1000, chip_time=chip_ms / 1000)
                    before = len(stats.sessions)
                    run = await phone_session(reactor, url, profile.chip(), options)
                    _check(scenario, run)
                    counts.append(stats.sessions[before])
                    times.setdefault(_key(rtt), []).append(run.seconds_to_result)
            first = counts[0]
            for c in counts[1:]:
                # Byte counts may move by a cipher block (an ECDSA signature's DER length
                # varies); the commands sent may not.
                if (c.round_trips, c.apdus) != (first.round_trips, first.apdus):
                    raise SessionFailed(f"{scenario.name}: counts differ between runs: {first} {c}")
            rows[scenario.name] = {
                "phone": {"extended_length": scenario.extended_length,
                          "max_response_bytes": scenario.max_response_bytes,
                          "max_pipelined_apdus": scenario.max_pipelined_apdus,
                          "strategy": "classic" if scenario.classic else "docval"},
                **{f: int(statistics.median(getattr(c, f) for c in counts)) for f in COUNT_FIELDS},
                "seconds_to_result": {k: statistics.median(v) for k, v in times.items()},
                "seconds_to_result_all": times,
            }
    finally:
        for service, _, _ in servers.values():
            await service.stopService()
    _add_ratios(rows)
    return {
        "machine": describe(),
        "profile": profile_name,
        "chip_ms_per_apdu": chip_ms,
        "rtts_ms": rtts_ms,
        "repeat": repeat,
        "scenarios": rows,
    }


async def _measure_v2(reactor: Any, url: str, scenario: V2Scenario, profile: Any, rtts_ms: list[float],
                      repeat: int, chip_ms: float) -> dict[str, Any]:
    records: list[Any] = []
    times: dict[str, list[float]] = {}
    for rtt in rtts_ms:
        for _ in range(repeat):
            options = scenario.options(profile, rtt=rtt / 1000, chip_time=chip_ms / 1000)
            # seconds_to_result: from connecting to the RESULT, on the reactor's clock.
            record = await start_phone_v2(reactor, url, profile.chip(), options)
            if not verified(record):
                raise SessionFailed(f"{scenario.name}: session did not verify: {record!r} "
                                    f"errors={(record.result or {}).get('errors')}")
            records.append(record)
            times.setdefault(_key(rtt), []).append(record.seconds_to_result)
    first = records[0]
    for r in records[1:]:
        if (r.round_trips, r.apdus, r.chip_commands) != (first.round_trips, first.apdus, first.chip_commands):
            raise SessionFailed(f"{scenario.name}: counts differ between runs: {first!r} {r!r}")
    return {
        "phone": {"api": "v2", "platform": scenario.platform, "extended_length": scenario.extended_length},
        "round_trips": first.round_trips,
        "apdus": first.apdus,                       # relayed through the server
        "chip_apdus": first.chip_commands,          # everything the chip answered, local reads included
        # Without the RESULT message, as v1's figures count the relay only.
        "bytes_to_phone": int(statistics.median(r.bytes_from_server - r.result_bytes for r in records)),
        "result_bytes": int(statistics.median(r.result_bytes for r in records)),
        "bytes_from_phone": int(statistics.median(r.bytes_to_server for r in records)),
        "seconds_to_result": {k: statistics.median(v) for k, v in times.items()},
        "seconds_to_result_all": times,
    }


def _key(rtt: float) -> str:
    return f"{rtt:g}"


def _add_ratios(rows: dict[str, dict[str, Any]]) -> None:
    """value / classic for every figure (below 1 is better); speedup = classic time / time."""
    base = rows.get("classic")
    if base is None:
        return
    for row in rows.values():
        ratio = {f: row[f] / base[f] for f in COUNT_FIELDS if base[f]}
        ratio["seconds_to_result"] = {k: t / base["seconds_to_result"][k]
                                      for k, t in row["seconds_to_result"].items()
                                      if base["seconds_to_result"].get(k)}
        row["ratio_to_classic"] = ratio
        row["speedup_vs_classic"] = {k: base["seconds_to_result"][k] / t
                                     for k, t in row["seconds_to_result"].items()
                                     if t and k in base["seconds_to_result"]}


def format_table(report: dict[str, Any]) -> str:
    rtts = [_key(r) for r in report["rtts_ms"]]
    head = ["scenario", "RTs", "APDUs", "bytes->phone", "bytes<-phone"] + [f"t@{r}ms RTT" for r in rtts]
    lines = []
    for name, row in report["scenarios"].items():
        ratio = row.get("ratio_to_classic", {})
        cells = [name]
        for f in COUNT_FIELDS:
            r = ratio.get(f)
            cells.append(f"{row[f]}" + (f" ({r:.2f})" if r is not None else ""))
        for k in rtts:
            t = row["seconds_to_result"][k]
            sp = row.get("speedup_vs_classic", {}).get(k)
            cells.append(f"{t:.2f}s" + (f" ({sp:.1f}x)" if sp is not None else ""))
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*cells) for cells in lines]
    m = report["machine"]
    out.append("")
    v2 = [row for row in report["scenarios"].values() if row["phone"].get("api") == "v2"]
    if v2:
        out.append("v2-*: API v2; RTs = times the phone waited for the server (START/ACCEPT, each relayed APDU, "
                   "the handback, FINISH/RESULT; the phone's own chip reads are not network round trips); "
                   "APDUs = relayed; bytes = every message payload but the RESULT (as for v1); time to RESULT; "
                   "chip APDUs (local + relayed) / RESULT bytes: "
                   + ", ".join(f"{n} {r['chip_apdus']} / {r['result_bytes']}" for n, r in report["scenarios"].items()
                               if r["phone"].get("api") == "v2"))
    out.append(f"counts: value (value/classic); times: median seconds to DONE (classic/time = speedup); "
               f"chip {report['chip_ms_per_apdu']:g} ms/APDU; repeat {report['repeat']}; "
               f"{m['nproc']} x {m['cpu']}")
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rtts", default="0,50,150", help="network round-trip times in ms (default 0,50,150)")
    p.add_argument("--repeat", type=int, default=1, help="runs per scenario and RTT (median reported)")
    p.add_argument("--chip-ms", type=float, default=10.0, help="chip time per APDU in ms (default 10)")
    p.add_argument("--scenarios", default=None,
                   help="comma-separated subset of: " + ",".join(s.name for s in SCENARIOS + V2_SCENARIOS))
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    args.rtts = [float(x) for x in args.rtts.split(",") if x.strip()]
    if args.repeat < 1 or not args.rtts:
        p.error("need at least one RTT and --repeat >= 1")
    names = {s.name: s for s in SCENARIOS + V2_SCENARIOS}
    if args.scenarios:
        wanted = [n.strip() for n in args.scenarios.split(",")]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            p.error(f"unknown scenario(s): {', '.join(unknown)}")
        if "classic" not in wanted:
            wanted.insert(0, "classic")   # every figure needs its ratio
        args.scenarios = tuple(names[n] for n in wanted)
    else:
        args.scenarios = SCENARIOS + V2_SCENARIOS
    return args


def main(argv: list[str] | None = None) -> int:
    from twisted.internet import defer, task

    args = parse_args(argv)
    report: dict[str, Any] = {}

    async def body(reactor: Any) -> None:
        report.update(await measure(reactor, args.rtts, args.repeat, args.chip_ms, args.scenarios))
        print(format_table(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")

    task.react(lambda reactor: defer.ensureDeferred(body(reactor)), [])
    return 0   # task.react exits the process itself


if __name__ == "__main__":
    sys.exit(main())
