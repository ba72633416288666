"""A genuine session's time while hostile sessions send large JPEG 2000 images.

    python bench/hostile_images.py [--hostile 8] [--images 16] [--pixels 1200] [--rounds 5]
                                   [--rtt 0] [--chip-ms 0] [--kind j2k|jpeg] [--server-tree DIR] [--json FILE]

The server is the real service (docval.tap.DocValService, built-in demo
configuration) in a child process, as in bench/capacity.py, so that the phones'
CPU is not the server's.  The genuine document is the reference passport (JPEG
face).  Each hostile document is the same passport with ``--images`` JPEG 2000
faces in DG2 and as many in DG7, each ``--pixels`` square (just under the
signature cap, the most a verified image may cost) and compressed to a few KB so
that 16 fit a 64 KB file -- and *validly signed* by the demo signer the server
trusts: the worst case, where every image passes Passive Authentication and
only the decoding pool and the per-session budget stand between the attacker
and the event loop.  (An attacker without a trusted signer gets no decoding at
all.)

A round: the genuine session alone, then ``--hostile`` hostile sessions at once
and the genuine one started as soon as the first of them reports READ_DG2 (when
images start to arrive).  Printed: the genuine session's time to close, solo and
under attack (median and worst of the rounds), their ratio (target: at most 2),
the hostile sessions' times and what their results carried.

Phones replay one recorded chip transcript per document (the server's random
numbers are seeded, benchmark only, as in bench/capacity.py), so they cost
almost nothing.  ``--server-tree`` runs the server from another checkout (e.g.
the main branch before this change) for a comparison.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.capacity import RecordingChip, ReplayChip, ServerProcess  # noqa: E402
from bench.harness import REFERENCE_PROFILE, Scenario, print_report  # noqa: E402
from bench.machine import describe  # noqa: E402

FAST = Scenario("android", extended_length=True)


class TreeServer(ServerProcess):
    """bench/capacity.py's server child, run from the checkout ``root``."""

    def __init__(self, root: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(root))
        self.proc = subprocess.Popen([sys.executable, str(root / "bench" / "capacity.py"), "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env=env, cwd=str(root))
        line = self.proc.stdout.readline().strip()
        if not line.startswith("URL "):
            self.close()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line[4:]


def large_j2k(side: int, seed: int) -> bytes:
    """A ``side`` x ``side`` RGB JPEG 2000 codestream of a few KB (heavily compressed
    noise over a gradient: every pixel still has to be reconstructed to decode it)."""
    from PIL import Image

    base = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    noise = Image.effect_noise((side, side), 40 + seed % 7).convert("RGB")
    picture = Image.blend(base, noise, 0.3)
    out = io.BytesIO()
    picture.save(out, "JPEG2000", no_jp2=True, irreversible=True,
                 quality_mode="rates", quality_layers=[side * side * 3 / 3000])
    return out.getvalue()


def large_jpeg(side: int, seed: int) -> bytes:
    """The control: a JPEG of about the same few KB, passed on undecoded (a quarter
    of the side: a JPEG of the full size does not fit in so few bytes)."""
    from PIL import Image

    side //= 4
    base = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    noise = Image.effect_noise((side, side), 40 + seed % 7).convert("RGB")
    out = io.BytesIO()
    Image.blend(base, noise, 0.3).save(out, "JPEG", quality=1)
    return out.getvalue()


def hostile_chip(images: int, side: int, kind: str = "j2k") -> Any:
    from docval.sim import datagroups
    from docval.sim.edit import put_dg
    from docval.sim.profiles import get_profile

    chip = get_profile(REFERENCE_PROFILE).chip()
    make = large_j2k if kind == "j2k" else large_jpeg
    pictures = [make(side, seed) for seed in range(images)]
    put_dg(chip, 2, datagroups.encode_dg2([(p, side, side, kind) for p in pictures]), resign=False)
    put_dg(chip, 7, datagroups.encode_dg7(pictures))     # re-signs EF.SOD over both: PA passes
    return chip


def _phone(reactor: Any, url: str, chip: Any, on_status: Any = None) -> Any:
    from urllib.parse import urlsplit

    from bench.capacity import BenchPhoneFactory
    from docval.sim.profiles import get_profile

    options = FAST.options(get_profile(REFERENCE_PROFILE), rtt=_ARGS.rtt / 1000, chip_time=_ARGS.chip_ms / 1000)
    factory = BenchPhoneFactory(url, chip, replace(options), reactor=reactor, on_status=on_status)
    factory.setProtocolOptions(openHandshakeTimeout=300)
    parts = urlsplit(url)
    reactor.connectTCP(parts.hostname, parts.port, factory, timeout=60)
    return factory.done


def _ok(record: Any) -> bool:
    result = record.result or {}
    return bool(record.succeeded and result.get("passive_authentication") is True)


def _summary(record: Any) -> dict[str, Any]:
    result = record.result or {}
    errors = result.get("errors") or []
    return {
        "seconds": record.duration,
        "close": record.close_reason or "OK",
        "face_photo": result.get("face_photo") is not None,
        "signature_photos": len(result.get("signature_photos") or []),
        "images_not_converted": sum(1 for e in errors if "not converted" in e),
    }


_ARGS: Any = None


async def measure(reactor: Any, args: argparse.Namespace) -> dict[str, Any]:
    from twisted.internet import defer, task

    from docval.sim.profiles import get_profile

    root = Path(args.server_tree).resolve() if args.server_tree else Path(__file__).resolve().parents[1]
    server = TreeServer(root)
    report: dict[str, Any] = {"machine": describe(), "server_tree": str(root),
                              "args": {k: v for k, v in vars(args).items() if k != "json"}}
    try:
        recorder = RecordingChip(get_profile(REFERENCE_PROFILE).chip())
        record = await _phone(reactor, server.url, recorder)
        if not _ok(record):
            raise RuntimeError(f"genuine recording session failed: {record!r}")
        genuine = recorder.transcript
        recorder = RecordingChip(hostile_chip(args.images, args.pixels, args.kind))
        t0 = time.monotonic()
        record = await _phone(reactor, server.url, recorder)
        report["hostile_alone"] = _summary(record)
        report["hostile_alone"]["seconds_incl_recording"] = time.monotonic() - t0
        hostile = recorder.transcript
        for _ in range(3):      # warm-up: imports, caches, the decoding workers
            await _phone(reactor, server.url, ReplayChip(genuine))
        await _phone(reactor, server.url, ReplayChip(hostile))

        solo: list[float] = []
        attacked: list[float] = []
        hostile_runs: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            record = await _phone(reactor, server.url, ReplayChip(genuine))
            if not _ok(record):
                raise RuntimeError(f"genuine session failed alone: {record.close_reason}")
            solo.append(record.duration)
            await task.deferLater(reactor, 0.2, lambda: None)

            images_arriving: defer.Deferred = defer.Deferred()

            # Bound as a default: each round's attackers fire that round's Deferred.
            def on_status(status: str, arriving: defer.Deferred = images_arriving) -> None:
                if status == "READ_DG2" and not arriving.called:
                    arriving.callback(None)

            attackers = [_phone(reactor, server.url, ReplayChip(hostile), on_status=on_status)
                         for _ in range(args.hostile)]
            await images_arriving
            record = await _phone(reactor, server.url, ReplayChip(genuine))
            if not _ok(record):
                raise RuntimeError(f"genuine session failed under attack: {record.close_reason}")
            attacked.append(record.duration)
            for rec in await defer.gatherResults(attackers):
                hostile_runs.append(_summary(rec))
            await task.deferLater(reactor, 0.5, lambda: None)

        report["genuine_solo"] = {"median": statistics.median(solo), "max": max(solo), "all": solo}
        report["genuine_attacked"] = {"median": statistics.median(attacked), "max": max(attacked),
                                      "all": attacked}
        report["ratio_median"] = report["genuine_attacked"]["median"] / report["genuine_solo"]["median"]
        report["ratio_worst"] = report["genuine_attacked"]["max"] / report["genuine_solo"]["median"]
        seconds = [h["seconds"] for h in hostile_runs if h["seconds"] is not None]
        report["hostile"] = {
            "sessions": len(hostile_runs),
            "closes": sorted({h["close"] for h in hostile_runs}),
            "seconds_median": statistics.median(seconds) if seconds else None,
            "seconds_max": max(seconds) if seconds else None,
            "face_photo_delivered": sum(h["face_photo"] for h in hostile_runs),
            "signature_photos_per_session": sorted({h["signature_photos"] for h in hostile_runs}),
            "images_not_converted_per_session": sorted({h["images_not_converted"] for h in hostile_runs}),
        }
        report["server"] = server.stats()
    finally:
        server.close()
    return report


def format_report(r: dict[str, Any]) -> str:
    a = r["args"]
    h = r["hostile"]
    lines = [
        f"machine: {r['machine']}",
        f"server: {r['server_tree']}",
        f"{a['hostile']} hostile sessions x ({a['images']} {a['kind'].upper()} faces in DG2 + {a['images']} in DG7), "
        f"{a['pixels']}x{a['pixels']} pixels each, validly signed; rtt {a['rtt']} ms, chip {a['chip_ms']} ms/APDU",
        f"hostile session alone:     {r['hostile_alone']['seconds']:.3f} s "
        f"(face {'yes' if r['hostile_alone']['face_photo'] else 'no'}, "
        f"{r['hostile_alone']['signature_photos']} signature images, "
        f"{r['hostile_alone']['images_not_converted']} not converted)",
        f"genuine session solo:      median {r['genuine_solo']['median']:.3f} s, worst {r['genuine_solo']['max']:.3f} s",
        f"genuine session attacked:  median {r['genuine_attacked']['median']:.3f} s, "
        f"worst {r['genuine_attacked']['max']:.3f} s",
        f"ratio attacked/solo:       median {r['ratio_median']:.2f}, worst {r['ratio_worst']:.2f} (target <= 2)",
        f"hostile sessions:          {h['sessions']}, closes {h['closes']}, median {h['seconds_median']:.3f} s, "
        f"worst {h['seconds_max']:.3f} s; signature images per session {h['signature_photos_per_session']}, "
        f"not converted {h['images_not_converted_per_session']}",
        f"server loop lag:           p99 {r['server']['loop_lag']['p99_ms']} ms, "
        f"max {r['server']['loop_lag']['max_ms']} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global _ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hostile", type=int, default=8)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--pixels", type=int, default=1200, help="side of each square image")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rtt", type=float, default=0.0, help="ms")
    parser.add_argument("--chip-ms", type=float, default=0.0)
    parser.add_argument("--kind", choices=("j2k", "jpeg"), default="j2k",
                        help="jpeg: the control, same sessions with images that need no decoding")
    parser.add_argument("--server-tree", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    _ARGS = args
    return print_report(measure, format_report, args)


if __name__ == "__main__":
    sys.exit(main())
