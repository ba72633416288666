"""``docval-verify``: Passive Authentication of files, offline.

Integrators use it to debug a document without a phone; it runs the very
code the server runs.  It prints a JSON object shaped like ``emrtd_passport``
and exits 0 whatever the verdict: a non-zero status (2) means the command was
used wrongly or a file could not be read, never that a document is invalid.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from docval.emrtd.errors import EmrtdError

EXIT_USAGE = 2


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docval-verify",
        description="Verify an EF.SOD and data groups against CSCA certificates (Passive Authentication).")
    p.add_argument("--csca", action="append", required=True, metavar="PATH",
                   help="CSCA certificate (PEM/DER), directory, ICAO master list (.ml) or PKD LDIF; repeatable")
    p.add_argument("--crl", action="append", default=[], metavar="PATH", help="CRL file or directory; repeatable")
    p.add_argument("--sod", required=True, metavar="FILE", help="EF.SOD as read from the chip")
    p.add_argument("--dg", action="append", default=[], metavar="N=FILE",
                   help="data group N (1-16) as read from the chip; repeatable")
    p.add_argument("--at", metavar="ISO-8601-TIME",
                   help="instant at which certificate validity is evaluated (default: now)")
    return p


def _parse_dg(spec: str) -> tuple[int, Path]:
    number, sep, path = spec.partition("=")
    if not sep or not path:
        raise _UsageError(f"--dg {spec!r}: expected N=FILE")
    try:
        n = int(number.strip().upper().removeprefix("DG"))
    except ValueError:
        raise _UsageError(f"--dg {spec!r}: N must be a data group number") from None
    if not 1 <= n <= 16:
        raise _UsageError(f"--dg {spec!r}: N must be between 1 and 16")
    return n, Path(path)


def _parse_at(text: str | None) -> datetime:
    if text is None:
        # The pure layer never reads the clock: "now" is decided here.
        return datetime.now(timezone.utc)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _UsageError(f"--at {text!r}: not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _UsageError(f"{what} {path}: {exc.strerror or exc}") from None


def verify(csca: Sequence[str], crl: Sequence[str], sod_data: bytes, dgs: dict[int, bytes],
           at: datetime) -> tuple[dict[str, Any], list[str]]:
    """The JSON result and the trust store's problems (for stderr)."""
    from docval.emrtd.lds.sod import parse_sod
    from docval.emrtd.pa import passive_authentication
    from docval.trust.store import TrustStore

    trust = TrustStore.load(list(csca), list(crl))
    problems = [f"{p.path}: {p.reason}" for p in trust.problems]
    errors: list[str] = []
    out: dict[str, Any] = {
        "sod_info": None,
        "mrz_info": None,
        "passive_authentication": False,
        "passive_authentication_details": {
            "sod_signature_valid": False,
            "document_certificate_valid": False,
            "data_groups_checked": [],
            "data_groups_with_valid_hash": [],
            "all_hashes_valid": False,
            "error": None,
        },
        "errors": errors,
        "trust_store_version": trust.version,
        "trust_store": {"csca_count": trust.count, "crl_count": len(trust.crls),
                        "master_lists": [{"path": m.path, "signer": m.signer_subject,
                                          "csca_count": m.csca_count} for m in trust.master_lists]},
    }
    issuing_state = None
    if 1 in dgs:
        try:
            from docval.emrtd.lds.dg1 import parse_dg1
            from docval.result import mrz_info

            mrz = parse_dg1(dgs[1])
            out["mrz_info"] = mrz_info(mrz)
            issuing_state = mrz.issuing_state
        except EmrtdError as exc:
            errors.append(f"DG1: {exc}")
    try:
        sod = parse_sod(sod_data)
    except EmrtdError as exc:
        message = f"EF.SOD: {exc}"
        errors.append(message)
        out["passive_authentication_details"]["error"] = message
        return out, problems
    out["sod_info"] = {
        "hash_algorithm": sod.hash_algorithm,
        "hash_for_data_group": {str(n): base64.b64encode(h).decode("ascii")
                                for n, h in sorted(sod.dg_hashes.items())},
    }
    pa = passive_authentication(sod, dgs, trust, at=at, issuing_state=issuing_state)
    out["passive_authentication"] = pa.passive_authentication
    out["passive_authentication_details"] = {
        "sod_signature_valid": pa.sod_signature_valid,
        "document_certificate_valid": pa.document_certificate_valid,
        "data_groups_checked": pa.data_groups_checked,
        "data_groups_with_valid_hash": pa.data_groups_with_valid_hash,
        "all_hashes_valid": pa.all_hashes_valid,
        "error": pa.error,
        "signature_algorithm": pa.signature_algorithm,
        "hash_algorithm": pa.hash_algorithm,
        "dsc_subject": pa.dsc_subject,
        "csca_subject": pa.csca_subject,
        "dsc_valid_at_time": pa.dsc_valid_at_time,
        "evaluated_at": pa.evaluated_at,
        "signing_time": sod.signing_time.strftime("%Y-%m-%dT%H:%M:%SZ") if sod.signing_time else None,
        "warnings": pa.warnings,
    }
    errors.extend(pa.errors)
    return out, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # argparse has printed the usage message
        return EXIT_USAGE if exc.code else 0
    try:
        at = _parse_at(args.at)
        dg_paths = [_parse_dg(spec) for spec in args.dg]
        seen: set[int] = set()
        for n, _ in dg_paths:
            if n in seen:
                raise _UsageError(f"--dg: DG{n} given twice")
            seen.add(n)
        for path in list(args.csca) + list(args.crl):
            if not Path(path).exists():
                raise _UsageError(f"{path}: no such file or directory")
        sod_data = _read(Path(args.sod), "--sod")
        dgs = {n: _read(path, f"--dg {n}") for n, path in dg_paths}
    except _UsageError as exc:
        print(f"docval-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result, problems = verify(args.csca, args.crl, sod_data, dgs, at)
    for problem in problems:
        print(f"docval-verify: trust store: {problem}", file=sys.stderr)
    json.dump(result, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
