"""Long fuzzing runs of every parser that sees untrusted bytes (the targets of tests/fuzz).

    python bench/fuzz.py                      # 10^4 executions per target (a smoke run)
    python bench/fuzz.py --slow               # 10^6 executions per target
    python bench/fuzz.py --count 200000 --targets sod,dg2,flow_pace

A random-mutation loop over the real-world and recorded seeds of
``tests/fuzz/targets.py`` (atheris is not a dependency).  Light feedback: an input
that makes a target fail in a way not seen before (exception type and message
head) joins that target's corpus, so later mutations start from it.  Anything but
the documented exception types is a finding: its input is written to
``--crash-dir`` and the run exits 1.  Prints one line per target with the counts.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.targets import TARGETS, allowed_for, random_input, seeds_for  # noqa: E402

MAX_CORPUS = 256
# Pillow warns about JPEG 2000 headers declaring huge images before images.py refuses them.
warnings.filterwarnings("ignore", module="PIL")


def fuzz_target(name: str, count: int, seed: int, crash_dir: Path, max_seconds: float | None) -> dict:
    target = TARGETS[name]
    allowed = allowed_for(target)
    corpus = list(seeds_for(name))
    seen: set[tuple[str, str]] = set()
    rnd = random.Random(f"{seed}:{name}")
    findings: dict[str, str] = {}
    started = time.monotonic()
    executed = rejected = 0
    for i in range(count):
        data = random_input(target, corpus, rnd)
        try:
            target.fn(data)
        except allowed as exc:
            rejected += 1
            # Numbers (offsets, lengths) vary endlessly; the message shape is the new behaviour.
            key = (type(exc).__name__, re.sub(r"[0-9A-F]{2,}|\d+", "#", str(exc))[:60])
            if key not in seen:
                seen.add(key)
                if len(corpus) < MAX_CORPUS:
                    corpus.append(data)
        except Exception as exc:   # noqa: BLE001 - the finding this tool exists for
            kind = f"{type(exc).__name__}: {str(exc)[:80]}"
            if kind not in findings:
                crash_dir.mkdir(parents=True, exist_ok=True)
                path = crash_dir / f"{name}-{len(findings)}.bin"
                path.write_bytes(data)
                findings[kind] = f"{path}\n{traceback.format_exc()}"
        executed += 1
        if max_seconds is not None and i % 256 == 0 and time.monotonic() - started > max_seconds:
            break
    elapsed = time.monotonic() - started
    return {"name": name, "executed": executed, "rejected": rejected, "accepted": executed - rejected,
            "distinct_errors": len(seen), "corpus": len(corpus), "seconds": elapsed, "findings": findings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", action="store_true", help="10^6 executions per target")
    parser.add_argument("--count", type=int, help="executions per target (overrides --slow)")
    parser.add_argument("--targets", help="comma-separated target names (default: all)")
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    parser.add_argument("--max-seconds", type=float, help="stop a target after this long")
    parser.add_argument("--crash-dir", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in sorted(TARGETS):
            print(name)
        return 0
    count = args.count or (10**6 if args.slow else 10**4)
    names = args.targets.split(",") if args.targets else sorted(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    print(f"fuzz: seed={args.seed} count={count} targets={len(names)}", flush=True)
    total = 0
    failed = False
    for name in names:
        r = fuzz_target(name, count, args.seed, args.crash_dir, args.max_seconds)
        total += r["executed"]
        print(f"{name:22s} executions={r['executed']:>9d} rejected={r['rejected']:>9d} "
              f"distinct_errors={r['distinct_errors']:>4d} corpus={r['corpus']:>4d} "
              f"rate={r['executed'] / max(r['seconds'], 1e-9):>8.0f}/s seconds={r['seconds']:.1f} "
              f"findings={len(r['findings'])}", flush=True)
        for kind, where in r["findings"].items():
            failed = True
            print(f"  FINDING {kind}\n  {where}", flush=True)
    print(f"fuzz: total executions={total} {'FINDINGS' if failed else 'no findings'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
