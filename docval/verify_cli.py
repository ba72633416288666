"""``docval-verify``: Passive Authentication of files, offline.

Integrators use it to debug a document without a phone; it runs the very
code the server runs.  It prints a JSON object shaped like ``emrtd_passport``
(plus ``card_security`` when EF.CardSecurity is given) and exits by verdict:

    0  every file given verified: EF.SOD signature and chain, every data group
       EF.SOD lists (all supplied, all hashes match), EF.CardSecurity if given
    1  verification failed (the JSON says why), including a malformed EF.SOD
    2  usage error: bad option, a file that cannot be read (nothing on stdout)
    3  what was supplied verified, but EF.SOD lists data groups that were not
       supplied (named in ``data_groups_not_read`` and in ``errors``)
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from docval import __version__
from docval.emrtd.errors import EmrtdError
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.lds.dg1 import parse_dg1
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.pa import passive_authentication, verify_signed_data
from docval.result import mrz_info
from docval.trust.store import TrustStore

if TYPE_CHECKING:
    from docval.emrtd.pa import PAResult
    from docval.emrtd.trustview import TrustView

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3

OID_SECURITY_OBJECT = "0.4.0.127.0.7.3.2.1"   # BSI TR-03110 id-SecurityObject: EF.CardSecurity content

_EPILOG = """\
exit status:
  0  verified: EF.SOD signature and certificate chain, every data group EF.SOD
     lists supplied with a matching hash, and EF.CardSecurity if given
  1  verification failed (the JSON says why; a malformed EF.SOD counts here)
  2  usage error: unknown or malformed option, a file that cannot be read
  3  the files supplied verified, but EF.SOD lists data groups that were not
     supplied (see data_groups_not_read): not a verdict on the whole document
"""


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docval-verify",
        description="Verify an EF.SOD and data groups, and/or an EF.CardSecurity, against CSCA "
                    "certificates (Passive Authentication). Prints JSON shaped like emrtd_passport.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"docval-verify {__version__}")
    p.add_argument("--csca", action="append", required=True, metavar="PATH",
                   help="CSCA certificate (PEM/DER), directory, ICAO master list (.ml, with its "
                        "publisher's CSCA given too) or PKD LDIF; repeatable")
    p.add_argument("--crl", action="append", default=[], metavar="PATH", help="CRL file or directory; repeatable")
    p.add_argument("--sod", metavar="FILE", help="EF.SOD as read from the chip")
    p.add_argument("--dg", action="append", default=[], metavar="N=FILE",
                   help="data group N (1-16) as read from the chip; repeatable")
    p.add_argument("--card-security", metavar="FILE",
                   help="EF.CardSecurity as read from the chip (its signature is verified like EF.SOD's)")
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
        raise _UsageError(f"--at {text!r}: not an ISO 8601 time (e.g. 2025-05-19T04:03:14Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _UsageError(f"{what} {path}: {exc.strerror or exc}") from None


def _dgs_text(numbers: Sequence[int]) -> str:
    return ", ".join(f"DG{n}" for n in numbers)


def _signed_details(pa: PAResult) -> dict[str, Any]:
    return {
        "signature_valid": pa.sod_signature_valid,
        "document_certificate_valid": pa.document_certificate_valid,
        "signature_algorithm": pa.signature_algorithm,
        "hash_algorithm": pa.hash_algorithm,
        "dsc_subject": pa.dsc_subject,
        "csca_subject": pa.csca_subject,
        "dsc_valid_at_time": pa.dsc_valid_at_time,
        "revocation_checked": pa.revocation_checked,
        "evaluated_at": pa.evaluated_at,
        "error": pa.error,
        "warnings": pa.warnings,
    }


def _card_security(data: bytes, trust: TrustView | None, at: datetime) -> dict[str, Any]:
    try:
        signed = parse_signed_data(data)
    except EmrtdError as exc:
        return {"verified": False, "error": f"EF.CardSecurity: {exc}"}
    if signed.econtent_type != OID_SECURITY_OBJECT:
        return {"verified": False,
                "error": f"EF.CardSecurity: content type {signed.econtent_type} is not a security object"}
    pa = verify_signed_data(signed, trust, at)
    return {"verified": bool(pa.passive_authentication), **_signed_details(pa)}


def verify(csca: Sequence[str], crl: Sequence[str], sod_data: bytes | None, dgs: dict[int, bytes],
           at: datetime, card_security: bytes | None = None) -> tuple[dict[str, Any], list[str]]:
    """The JSON result and the trust store's problems (for stderr)."""
    trust = TrustStore.load(list(csca), list(crl))
    problems = [f"{p.path}: {p.reason}" for p in trust.problems]
    if trust.count == 0:
        problems.append("no CSCA certificate loaded from --csca: nothing can verify")
    errors: list[str] = []
    out: dict[str, Any] = {
        "sod_info": None,
        "mrz_info": None,
        # null: no EF.SOD was given, so there is no verdict on the data groups
        "passive_authentication": False if sod_data is not None else None,
        "passive_authentication_details": {
            "sod_signature_valid": False,
            "document_certificate_valid": False,
            "data_groups_checked": [],
            "data_groups_with_valid_hash": [],
            "data_groups_not_read": [],
            "all_hashes_valid": False,
            "error": None if sod_data is not None else "no EF.SOD given",
        },
        "card_security": None,
        "errors": errors,
        "trust_store_version": trust.version,
        "trust_store": {"csca_count": trust.count, "crl_count": len(trust.crls),
                        "master_lists": [{"path": m.path, "signer": m.signer_subject,
                                          "pinned_csca": m.anchor_subject,
                                          "csca_count": m.csca_count} for m in trust.master_lists]},
    }
    if card_security is not None:
        out["card_security"] = _card_security(card_security, trust, at)
        if not out["card_security"]["verified"]:
            errors.append(f"EF.CardSecurity not verified: {out['card_security']['error']}")
    if sod_data is None:
        return out, problems
    issuing_state = None
    if 1 in dgs:
        try:
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
    not_read = sorted(set(sod.dg_hashes) - set(dgs))
    out["passive_authentication"] = pa.passive_authentication
    out["passive_authentication_details"] = {
        "sod_signature_valid": pa.sod_signature_valid,
        "document_certificate_valid": pa.document_certificate_valid,
        "data_groups_checked": pa.data_groups_checked,
        "data_groups_with_valid_hash": pa.data_groups_with_valid_hash,
        "data_groups_not_read": not_read,
        "all_hashes_valid": pa.all_hashes_valid,
        "error": pa.error,
        "signature_algorithm": pa.signature_algorithm,
        "hash_algorithm": pa.hash_algorithm,
        "dsc_subject": pa.dsc_subject,
        "csca_subject": pa.csca_subject,
        "dsc_valid_at_time": pa.dsc_valid_at_time,
        "revocation_checked": pa.revocation_checked,
        "evaluated_at": pa.evaluated_at,
        "signing_time": sod.signing_time.strftime("%Y-%m-%dT%H:%M:%SZ") if sod.signing_time else None,
        "warnings": pa.warnings,
    }
    errors.extend(pa.errors)
    if not_read:
        # PA over a subset is still PA over a subset: say which hashes were never compared.
        errors.append(f"EF.SOD lists {_dgs_text(not_read)}, not supplied: their hashes were not checked")
    return out, problems


def exit_status(result: dict[str, Any]) -> int:
    """The documented exit status for a result of :func:`verify`."""
    card = result.get("card_security")
    if card is not None and not card["verified"]:
        return EXIT_FAILED
    if result["passive_authentication"] is None:      # only EF.CardSecurity was given
        return EXIT_VERIFIED
    if not result["passive_authentication"]:
        return EXIT_FAILED
    if result["passive_authentication_details"]["data_groups_not_read"]:
        return EXIT_INCOMPLETE
    return EXIT_VERIFIED


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # argparse has printed the usage message (or --help, --version)
        return EXIT_USAGE if exc.code else 0
    try:
        if args.sod is None and args.card_security is None:
            raise _UsageError("give --sod FILE (with --dg N=FILE for the data groups) and/or "
                              "--card-security FILE")
        if args.sod is None and args.dg:
            raise _UsageError("--dg needs --sod: data group hashes are checked against EF.SOD")
        at = _parse_at(args.at)
        dg_paths = [_parse_dg(spec) for spec in args.dg]
        seen: set[int] = set()
        for n, _ in dg_paths:
            if n in seen:
                raise _UsageError(f"--dg: DG{n} given twice")
            seen.add(n)
        for option, paths in (("--csca", args.csca), ("--crl", args.crl)):
            for path in paths:
                if not Path(path).exists():
                    raise _UsageError(f"{option} {path}: no such file or directory")
        sod_data = _read(Path(args.sod), "--sod") if args.sod is not None else None
        card_security = (_read(Path(args.card_security), "--card-security")
                         if args.card_security is not None else None)
        dgs = {n: _read(path, f"--dg {n}") for n, path in dg_paths}
    except _UsageError as exc:
        print(f"docval-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result, problems = verify(args.csca, args.crl, sod_data, dgs, at, card_security)
    for problem in problems:
        print(f"docval-verify: trust store: {problem}", file=sys.stderr)
    not_read = result["passive_authentication_details"]["data_groups_not_read"]
    if not_read:
        print(f"docval-verify: EF.SOD lists {_dgs_text(not_read)}, not supplied: their hashes were "
              "not checked (exit status 3 if everything else verified)", file=sys.stderr)
    json.dump(result, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())
