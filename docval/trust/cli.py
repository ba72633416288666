"""``docval-trust``: inspect and maintain the CSCA trust anchors of a DocVal installation.

    docval-trust list     [PATH ...] [--country XX] [--verbose]
    docval-trust expiring [PATH ...] [--days 90]
    docval-trust import   FILE ... [--into /etc/docval/csca] [--country XX]

``list`` and ``expiring`` read what the server reads (``[trust] csca`` and ``crl`` of
``--config``, by default /etc/docval/docval.toml, or the PATHs given). ``import`` takes
master lists (.ml), ICAO PKD LDIF files and certificates and writes each trust anchor as
its own PEM file into the directory, so the directory can be diffed, reviewed and pruned
by hand; the running server picks the files up on SIGHUP or its reload timer.
"""
from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence, TextIO

from docval.emrtd.certificate import Certificate
from docval.trust.store import TrustStore

DEFAULT_CONFIG = "/etc/docval/docval.toml"
DEFAULT_DIR = "/etc/docval/csca"


class CliError(Exception):
    """A usage problem reported on stderr with exit status 2."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _day(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d")


def _country(cert: Certificate) -> str:
    return cert.subject_country or "??"


def _pem(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


def anchor_filename(cert: Certificate) -> str:
    """Stable per certificate: importing the same anchor twice writes the same file."""
    return f"{_country(cert).lower()}-{cert.fingerprint[:20]}.pem"


def _store_paths(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.paths:
        return list(args.paths), []
    from docval.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(f"{exc} (or give trust anchor paths on the command line)") from None
    return [str(p) for p in config.trust.csca], [str(p) for p in config.trust.crl]


def _load(args: argparse.Namespace, err: TextIO) -> TrustStore:
    csca, crl = _store_paths(args)
    store = TrustStore.load(csca, crl)
    for problem in store.problems:
        print(f"warning: {problem.path}: {problem.reason}", file=err)
    return store


def _filtered(store: TrustStore, countries: Sequence[str] | None) -> list[Certificate]:
    wanted = {c.upper() for c in countries or ()}
    return [c for c in store.certificates if not wanted or _country(c).upper() in wanted]


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _load(args, err)
    certs = _filtered(store, args.country)
    by_country: dict[str, list[Certificate]] = defaultdict(list)
    for cert in certs:
        by_country[_country(cert)].append(cert)
    now = datetime.now(timezone.utc)
    for country in sorted(by_country):
        group = sorted(by_country[country], key=lambda c: _utc(c.not_after))
        valid = sum(1 for c in group if _utc(c.not_before) <= now <= _utc(c.not_after))
        print(f"{country}  {len(group):4d} certificates ({valid} valid today)", file=out)
        if args.verbose:
            for cert in group:
                print(f"    {_day(cert.not_before)} .. {_day(cert.not_after)}  "
                      f"{cert.fingerprint[:20]}  {cert.subject_text}", file=out)
    print(f"total {len(certs)} certificates from {len(by_country)} countries, "
          f"{len(store.crls)} CRLs, store version {store.version}", file=out)
    return 0


def cmd_expiring(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _load(args, err)
    now = datetime.now(timezone.utc)
    limit = now + timedelta(days=args.days)
    soon = sorted((c for c in _filtered(store, args.country) if _utc(c.not_after) <= limit),
                  key=lambda c: _utc(c.not_after))
    for cert in soon:
        state = "EXPIRED " if _utc(cert.not_after) < now else "expires "
        print(f"{state}{_day(cert.not_after)}  {_country(cert)}  {cert.fingerprint[:20]}  "
              f"{cert.subject_text}", file=out)
    print(f"{len(soon)} of {store.count} certificates expired or expiring within "
          f"{args.days} days", file=out)
    # CSCAs sign passports for years after they stop issuing: an expired CSCA still
    # verifies older documents, so this is information, not an error (exit 0).
    return 0


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".import-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)   # certificates are public; the service user must read them
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    source = TrustStore.load(args.files)
    for problem in source.problems:
        print(f"warning: {problem.path}: {problem.reason}", file=err)
    for ml in source.master_lists:
        # Importing a master list trusts every CSCA in it: say whose list it is.
        print(f"master list {ml.path}: {ml.csca_count} CSCAs, signed by {ml.signer_subject} "
              f"(certificate {ml.signer_fingerprint[:20]})", file=out)
    certs = _filtered(source, args.country)
    if not certs:
        print("error: no trust anchor to import", file=err)
        return 1
    target = Path(args.into)
    if not args.dry_run:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    added = 0
    for cert in certs:
        path = target / anchor_filename(cert)
        if path.exists():
            continue
        if not args.dry_run:
            _write_atomically(path, _pem(cert.der))
        added += 1
    if source.document_signers:
        print(f"skipped {len(source.document_signers)} document signer certificates "
              "(not trust anchors)", file=out)
    verb = "would add" if args.dry_run else "added"
    print(f"{verb} {added} new trust anchors to {target} "
          f"({len(certs) - added} already there)", file=out)
    if added and not args.dry_run:
        print("reload the server to use them: systemctl reload docval", file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docval-trust", description="Inspect and maintain DocVal's CSCA trust anchors.")
    sub = parser.add_subparsers(dest="command", required=True)

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="*", metavar="PATH",
                       help="certificates, directories, master lists, LDIF (default: [trust] of --config)")
        p.add_argument("--config", default=DEFAULT_CONFIG,
                       help=f"DocVal configuration to read [trust] from (default {DEFAULT_CONFIG})")
        p.add_argument("--country", action="append", metavar="XX",
                       help="only this country (ISO 3166 code as in the certificate; repeatable)")

    p = sub.add_parser("list", help="list trust anchors by country")
    store_args(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show every certificate")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("expiring", help="show expired certificates and those expiring soon")
    store_args(p)
    p.add_argument("--days", type=int, default=90, help="look this many days ahead (default 90)")
    p.set_defaults(func=cmd_expiring)

    p = sub.add_parser("import", help="import master lists, LDIF files or certificates")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--into", default=DEFAULT_DIR, help=f"target directory (default {DEFAULT_DIR})")
    p.add_argument("--country", action="append", metavar="XX",
                   help="import only this country's CSCAs (repeatable)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would be added")
    p.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "days", 0) < 0:
        print("docval-trust: error: --days must not be negative", file=err)
        return 2
    try:
        return args.func(args, out, err)
    except CliError as exc:
        print(f"docval-trust: error: {exc}", file=err)
        return 2
    except OSError as exc:
        print(f"docval-trust: error: {exc.filename or ''}: {exc.strerror or exc}", file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
