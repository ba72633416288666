"""``docval-trust``: inspect and maintain the CSCA trust anchors of a DocVal installation.

    docval-trust list     [PATH ...] [--country XX] [--verbose]
    docval-trust expiring [PATH ...] [--days 90]
    docval-trust import   FILE ... [--into /etc/docval/csca] [--create] [--country XX]

``list`` and ``expiring`` read what the server reads (``[trust] csca`` and ``crl`` of
``--config``, by default /etc/docval/docval.toml, or the PATHs given). ``import`` takes
master lists (.ml), ICAO PKD LDIF files and certificates and writes each trust anchor as
its own PEM file into the directory, so the directory can be diffed, reviewed and pruned
by hand; the running server picks the files up on SIGHUP or its reload timer.

A master list is imported only when its signer chains to a CSCA given as a certificate
file on the same command line or already in the target directory (never to a CSCA
inside the list itself). Fingerprints are printed in full, in the form of
``openssl x509 -noout -fingerprint -sha256``, so they can be compared with what the
issuing authority publishes.

Exit status: 0 done; 1 nothing to import or a file could not be written; 2 usage error
(unknown option, unreadable configuration, missing target directory).
"""
from __future__ import annotations

import argparse
import base64
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence, TextIO

from docval import __version__
from docval.config import ConfigError, _parse_trust
from docval.emrtd.certificate import Certificate
from docval.trust.store import TrustStore

DEFAULT_CONFIG = "/etc/docval/docval.toml"
DEFAULT_DIR = "/etc/docval/csca"
MAX_DAYS = 36500   # a century: beyond it the date arithmetic overflows, and no CSCA lives that long


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


def sha256_label(fingerprint: str) -> str:
    """A full SHA-256 fingerprint, labelled and spelled as ``openssl x509 -fingerprint -sha256``."""
    pairs = fingerprint.upper()
    return "sha256 Fingerprint=" + ":".join(pairs[i:i + 2] for i in range(0, len(pairs), 2))


def anchor_filename(cert: Certificate) -> str:
    """Stable per certificate: importing the same anchor twice writes the same file."""
    return f"{_country(cert).lower()}-{cert.fingerprint[:20]}.pem"


def _configured_trust(path: str) -> tuple[list[Path], list[Path]]:
    """``[trust] csca`` and ``crl`` of a configuration, checked as the server checks them.

    Only the [trust] section is read: this tool must keep working on a host whose
    other sections the server would refuse (no client yet, a listener in use).
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise CliError(f"--config {path}: cannot read it ({exc.strerror or exc}): run as root or "
                       "a member of group docval, or give trust anchor paths on the command line") from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"--config {path}: not valid TOML ({exc})") from None
    table = data.get("trust", {})
    if not isinstance(table, dict):
        raise CliError(f"--config {path}: [trust] must be a table")
    try:
        trust = _parse_trust(table, Path(path).resolve().parent)
    except ConfigError as exc:
        raise CliError(f"--config {path}: {exc}") from None
    return list(trust.csca), list(trust.crl)


def _store_paths(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.paths:
        return list(args.paths), []
    csca, crl = _configured_trust(args.config)
    return [str(p) for p in csca], [str(p) for p in crl]


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
                      f"{sha256_label(cert.fingerprint)}  {cert.subject_text}", file=out)
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
        print(f"{state}{_day(cert.not_after)}  {_country(cert)}  {sha256_label(cert.fingerprint)}  "
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


def _pins(target: Path) -> list[Certificate]:
    """Anchors already in the target directory: master lists may chain to them."""
    if not target.is_dir():
        return []
    return list(TrustStore.load([target]).certificates)


def running_units() -> list[str] | None:
    """The DocVal units systemd runs now (docval, docval@PORT), or None when unknown."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        proc = subprocess.run(
            [systemctl, "list-units", "--type=service", "--state=active", "--plain", "--no-legend",
             "--no-pager", "docval.service", "docval@*.service"],
            capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    units = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    return sorted(u.removesuffix(".service") for u in units if u.startswith("docval"))


def reload_hint(units: list[str] | None) -> str:
    if units:
        return "reload the server to use them: systemctl reload " + " ".join(units)
    # Not known which units run (no systemd here, or none active): name both forms.
    return ("reload the server to use them: systemctl reload docval "
            "(with docval@ instances: systemctl reload 'docval@*')")


def _read_by_server(target: Path, config: str) -> bool | None:
    """Whether ``[trust] csca`` of ``config`` includes ``target``; None if it cannot be told."""
    try:
        csca, _ = _configured_trust(config)
    except CliError:
        return None
    where = target.resolve()
    for path in csca:
        path = path.resolve()
        if where == path or path in where.parents:
            return True
    return False


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    target = Path(args.into)
    if target.exists() and not target.is_dir():
        raise CliError(f"--into {target}: not a directory")
    if not target.exists() and not args.create and not args.dry_run:
        raise CliError(f"--into {target}: no such directory; add --create to make it "
                       "(or create it with install -d -m 0755)")
    source = TrustStore.load(args.files, pins=_pins(target))
    for problem in source.problems:
        print(f"warning: {problem.path}: {problem.reason}", file=err)
    for ml in source.master_lists:
        # Importing a master list trusts every CSCA in it: say whose list it is and
        # which independently trusted CSCA vouches for it.
        print(f"master list {ml.path}: {ml.csca_count} CSCAs\n"
              f"  signed by   {ml.signer_subject}\n"
              f"              {sha256_label(ml.signer_fingerprint)}\n"
              f"  pinned CSCA {ml.anchor_subject}\n"
              f"              {sha256_label(ml.anchor_fingerprint)}", file=out)
    certs = _filtered(source, args.country)
    if not certs:
        print("docval-trust: error: no trust anchor to import", file=err)
        return 1
    if not args.dry_run and not target.exists():
        target.mkdir(mode=0o755, parents=True)
        print(f"created {target}", file=out)
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
    if args.dry_run and not target.exists():
        print(f"{target} does not exist: the import needs --create", file=out)
    if added and not args.dry_run:
        if _read_by_server(target, args.config) is False:
            print(f"note: [trust] csca of {args.config} does not include {target}: "
                  "the server will not read these files", file=out)
        print(reload_hint(running_units()), file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docval-trust", description="Inspect and maintain DocVal's CSCA trust anchors.",
        epilog="Exit status: 0 done; 1 nothing to import or a file could not be written; "
               "2 usage error (bad option, unreadable configuration, missing --into directory).")
    parser.add_argument("--version", action="version", version=f"docval-trust {__version__}")
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
    p.add_argument("--create", action="store_true",
                   help="create the target directory if it does not exist (never done without)")
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help="configuration whose [trust] csca should include the target directory "
                        f"(checked to warn otherwise; default {DEFAULT_CONFIG})")
    p.add_argument("--country", action="append", metavar="XX",
                   help="import only this country's CSCAs (repeatable)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would be added")
    p.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= getattr(args, "days", 0) <= MAX_DAYS:
        print(f"docval-trust: error: --days must be between 0 and {MAX_DAYS}", file=err)
        return 2
    try:
        return args.func(args, out, err)
    except CliError as exc:
        print(f"docval-trust: error: {exc}", file=err)
        return 2
    except OSError as exc:
        fix = " (run as root)" if exc.errno in (errno.EACCES, errno.EPERM) else ""
        print(f"docval-trust: error: {exc.filename or ''}: {exc.strerror or exc}{fix}", file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
