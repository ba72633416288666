"""The set of trusted CSCA certificates (and CRLs) Passive Authentication checks against.

``TrustStore.load`` reads PEM/DER certificate files, directories (recursively),
ICAO master lists (``.ml``, signature verified), ICAO PKD LDIF files and CRLs.
A file that cannot be used does not stop the load: it is listed in
``problems`` with the reason, so an operator sees it at startup and reload.
Reload is a fresh ``load``; the server swaps the object.

A master list is accepted only when its signer chains to a CSCA loaded from a
certificate file (or LDIF), never to one carried in a master list: the lists
are checked after every path has been read, against that set alone, so the
order of the configured paths does not matter and one list cannot vouch for
another.

A CRL past its nextUpdate still revokes what it lists, but it cannot show that
a document signer is *not* revoked: :meth:`TrustStore.revocation_status` says
``stale`` and Passive Authentication warns instead of counting revocation as
checked.

``version`` is a stable fingerprint of what was loaded: results carry it so a
verdict can be traced to the exact trust anchors used.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Final, Iterable

from docval.emrtd.certificate import Certificate, parse_certificate
from docval.emrtd.errors import EmrtdError, ParseError
from docval.emrtd.lds.cms import SignerInfo
from docval.emrtd.trustview import RevocationState
from docval.trust import ldif
from docval.trust.crl import CRL, parse_crl
from docval.trust.masterlist import SignedMasterList, read_master_list

MAX_FILE_BYTES = 256 << 20   # a full ICAO PKD LDIF download is well below this

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


@dataclass(frozen=True)
class MasterListSource:
    path: str
    signer_subject: str
    signer_fingerprint: str
    signer_issuer_subject: str
    anchor_subject: str                 # the independently trusted CSCA the signer chains to
    anchor_fingerprint: str
    signature_algorithm: str | None
    csca_count: int


#: ``TrustStore.revocation_status`` values.
REVOCATION_CURRENT: Final = "current"   # a CRL of the CSCA valid at the instant asked about
REVOCATION_STALE: Final = "stale"       # the CSCA's newest CRL is past its nextUpdate (or has none)
REVOCATION_NO_CRL: Final = "none"       # no CRL of this CSCA is loaded


class TrustStore:
    def __init__(self) -> None:
        self.certificates: list[Certificate] = []      # trust anchors: CSCAs and link certificates
        self.document_signers: list[Certificate] = []  # DSCs from LDIF, for SODs that omit theirs
        self.crls: list[CRL] = []
        self.master_lists: list[MasterListSource] = []
        self.problems: list[Problem] = []
        self._fingerprints: set[str] = set()
        self._by_ski: dict[bytes, list[Certificate]] = {}
        self._by_subject: dict[tuple, list[Certificate]] = {}
        # revoked serials per CRL signer key (SPKI DER), and per issuer name
        self._revoked: dict[bytes, set[int]] = {}
        self._revoked_by_name: dict[tuple, set[int]] = {}
        self._pending_crls: list[tuple[str, CRL]] = []
        self._pending_master_lists: list[tuple[str, SignedMasterList]] = []
        # the newest CRL (by thisUpdate) per CRL signer key (SPKI DER)
        self._newest_crl: dict[bytes, CRL] = {}
        self._crl_names: dict[str, str] = {}       # CRL fingerprint -> the file it came from
        self.version = self._compute_version()

    def __repr__(self) -> str:
        return f"<TrustStore {self.count} CSCAs, {len(self.crls)} CRLs, version {self.version}>"

    # --- loading -------------------------------------------------------------

    @classmethod
    def load(cls, paths: Iterable[str | Path], crl_paths: Iterable[str | Path] = (), *,
             pins: Iterable[Certificate] = (), now: datetime | None = None) -> "TrustStore":
        """Read ``paths`` and ``crl_paths``.

        ``pins`` are further CSCAs master lists may chain to without becoming
        anchors of this store (``docval-trust import`` passes the anchors already
        in the target directory); ``now`` is the instant stale CRLs are reported
        against (default: the clock).
        """
        store = cls()
        for path in paths:
            store._load_path(Path(path))
        for path in crl_paths:
            store._load_path(Path(path), crl_only=True)
        store._finish(list(pins), now)
        return store

    @classmethod
    def from_certificates(cls, ders: Iterable[bytes]) -> "TrustStore":
        """A store of the given DER/PEM certificates (the demo CSCA, tests)."""
        store = cls()
        for index, der in enumerate(ders):
            store._load_bytes(f"<certificate {index}>", bytes(der), crl_only=False)
        store._finish([], None)
        return store

    def _finish(self, pins: list[Certificate], now: datetime | None) -> None:
        self._apply_master_lists(pins)
        self._apply_crls()
        now = datetime.now(timezone.utc) if now is None else now
        for crl in self.stale_crls(now):
            when = f"nextUpdate {crl.next_update:%Y-%m-%d}" if crl.next_update else "no nextUpdate"
            self.problems.append(Problem(
                self._crl_names.get(crl.fingerprint, crl.issuer_text),
                f"CRL of {crl.issuer_text} is stale ({when}): load a current one; until then "
                "revocation of its document signers is not checked"))
        self.version = self._compute_version()

    def _load_path(self, path: Path, crl_only: bool = False) -> None:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not files:
                self.problems.append(Problem(str(path), "directory holds no files"))
            for file in files:
                self._load_file(file, crl_only)
        elif path.is_file():
            self._load_file(path, crl_only)
        else:
            self.problems.append(Problem(str(path), "no such file or directory"))

    def _load_file(self, path: Path, crl_only: bool) -> None:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                self.problems.append(Problem(str(path), "file too large"))
                return
            data = path.read_bytes()
        except OSError as exc:
            self.problems.append(Problem(str(path), f"unreadable: {exc.strerror or exc}"))
            return
        self._load_bytes(str(path), data, crl_only=crl_only)

    def _load_bytes(self, name: str, data: bytes, *, crl_only: bool) -> None:
        try:
            if b"-----BEGIN " in data[:4096] or _PEM.search(data[:65536]):
                self._load_pem(name, data, crl_only)
            elif name.lower().endswith(".ldif") or data.lstrip()[:3].lower() in (b"dn:", b"ver"):
                self._load_ldif(name, data)
            elif crl_only or name.lower().endswith(".crl"):
                self._add_crl(name, parse_crl(data))
            elif name.lower().endswith(".ml"):
                self._add_master_list(name, data)
            else:
                self._load_der(name, data)
        except EmrtdError as exc:
            self.problems.append(Problem(name, str(exc)))

    def _load_pem(self, name: str, data: bytes, crl_only: bool) -> None:
        found = False
        for match in _PEM.finditer(data):
            found = True
            kind = match.group(1).decode("ascii")
            try:
                der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
            except ValueError:
                raise ParseError("bad base64 in PEM block") from None
            if kind == "X509 CRL":
                self._add_crl(name, parse_crl(der))
            elif kind in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE") and not crl_only:
                self._add_certificate(parse_certificate(der), anchor=True)
            elif kind in ("CMS", "PKCS7") and not crl_only:
                self._add_master_list(name, der)
            else:
                self.problems.append(Problem(name, f"ignored PEM block {kind}"))
        if not found:
            raise ParseError("no PEM block")

    def _load_der(self, name: str, data: bytes) -> None:
        """A DER file of unknown kind: certificate, then master list, then CRL."""
        try:
            self._add_certificate(parse_certificate(data), anchor=True)
            return
        except ParseError:
            pass
        try:
            self._add_master_list(name, data)
            return
        except ParseError as ml_error:
            try:
                self._add_crl(name, parse_crl(data))
            except ParseError:
                if "master list" in str(ml_error) or "signer" in str(ml_error):
                    raise ml_error from None
                raise ParseError("neither a certificate, a master list nor a CRL") from None

    def _load_ldif(self, name: str, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("LDIF file is not UTF-8") from None
        count = 0
        for attribute, value in ldif.iter_binary_values(text):
            entry = f"{name} (LDIF value {count})"
            count += 1
            try:
                if attribute in ldif.MASTER_LIST_ATTRIBUTES:
                    self._add_master_list(entry, value)
                elif attribute in ldif.CRL_ATTRIBUTES:
                    self._add_crl(entry, parse_crl(value))
                elif attribute in ldif.CERTIFICATE_ATTRIBUTES:
                    cert = parse_certificate(value)
                    # The PKD "data" branch publishes DSCs: usable to find a signer,
                    # never as trust anchors.
                    self._add_certificate(cert, anchor=_is_ca(cert))
            except EmrtdError as exc:
                self.problems.append(Problem(entry, str(exc)))
        if count == 0:
            raise ParseError("LDIF file holds no certificate, CRL or master list")

    def _add_master_list(self, name: str, data: bytes) -> None:
        # The signature is checked now (so a broken file is named as such); the
        # chain to a pinned CSCA once every certificate file has been read.
        self._pending_master_lists.append((name, read_master_list(data)))

    def _apply_master_lists(self, pins: list[Certificate]) -> None:
        # Only anchors from certificate files (and the pins) may vouch for a list:
        # a snapshot taken before any list adds its own CSCAs.
        independent = list(self.certificates) + pins
        for name, signed in self._pending_master_lists:
            try:
                ml = signed.anchored(independent)
            except EmrtdError as exc:
                self.problems.append(Problem(name, str(exc)))
                continue
            for cert in ml.certificates:
                self._add_certificate(cert, anchor=True)
            for skipped in ml.skipped:
                self.problems.append(Problem(name, f"master list certificate skipped: {skipped}"))
            self.master_lists.append(MasterListSource(
                path=name, signer_subject=ml.signer.subject_text, signer_fingerprint=ml.signer.fingerprint,
                signer_issuer_subject=ml.signer_issuer.subject_text, anchor_subject=ml.anchor.subject_text,
                anchor_fingerprint=ml.anchor.fingerprint,
                signature_algorithm=ml.signature_algorithm, csca_count=len(ml.certificates)))
        self._pending_master_lists = []

    def _add_certificate(self, cert: Certificate, *, anchor: bool) -> None:
        if cert.fingerprint in self._fingerprints:
            return
        self._fingerprints.add(cert.fingerprint)
        if not anchor:
            self.document_signers.append(cert)
            return
        self.certificates.append(cert)
        if cert.ski is not None:
            self._by_ski.setdefault(cert.ski, []).append(cert)
        self._by_subject.setdefault(cert.subject_key, []).append(cert)

    def _add_crl(self, name: str, crl: CRL) -> None:
        self._pending_crls.append((name, crl))

    def _apply_crls(self) -> None:
        """Use a CRL only when a trusted CSCA signed it (checked after all anchors loaded)."""
        seen: set[str] = set()
        for name, crl in self._pending_crls:
            if crl.fingerprint in seen:
                continue
            seen.add(crl.fingerprint)
            issuer = None
            for candidate in self._candidates(crl.aki, crl.issuer_key):
                try:
                    if crl.signed_by(candidate):
                        issuer = candidate
                        break
                except EmrtdError:
                    continue
            if issuer is None:
                self.problems.append(Problem(name, f"CRL of {crl.issuer_text} is not signed by a trusted CSCA"))
                continue
            self.crls.append(crl)
            self._crl_names[crl.fingerprint] = name
            self._revoked.setdefault(issuer.spki, set()).update(crl.revoked_serials)
            newest = self._newest_crl.get(issuer.spki)
            if newest is None or crl.this_update > newest.this_update:
                self._newest_crl[issuer.spki] = crl
            self._revoked_by_name.setdefault(crl.issuer_key, set()).update(crl.revoked_serials)
        self._pending_crls = []

    # --- queries -------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.certificates)

    def countries(self) -> list[str]:
        return sorted({c.subject_country for c in self.certificates if c.subject_country})

    def by_ski(self, ski: bytes) -> list[Certificate]:
        return list(self._by_ski.get(ski, ()))

    def by_subject(self, name_key: tuple) -> list[Certificate]:
        return list(self._by_subject.get(name_key, ()))

    def _candidates(self, aki: bytes | None, issuer_key: tuple) -> list[Certificate]:
        found = list(self._by_ski.get(aki, ())) if aki is not None else []
        found += [c for c in self._by_subject.get(issuer_key, ()) if c not in found]
        return found

    def issuer_candidates(self, cert: Certificate) -> list[Certificate]:
        """Trusted certificates that may have issued ``cert`` (by key id, then name)."""
        return [c for c in self._candidates(cert.aki, cert.issuer_key) if c.fingerprint != cert.fingerprint]

    def signer_candidates(self, signer: SignerInfo) -> list[Certificate]:
        """Known document signer certificates (from LDIF) for a SignerInfo's sid."""
        if signer.ski is not None:
            return [c for c in self.document_signers if c.ski == signer.ski]
        return [c for c in self.document_signers if c.serial == signer.serial]

    def is_revoked(self, cert: Certificate, issuer: Certificate | None = None) -> bool:
        """Whether a CRL of ``cert``'s issuer lists it.

        With ``issuer`` (the CSCA whose key verified ``cert``) only CRLs signed by
        that key count, so two CSCAs sharing a name cannot revoke each other's DSCs.
        """
        if issuer is not None:
            return cert.serial in self._revoked.get(issuer.spki, ())
        return cert.serial in self._revoked_by_name.get(cert.issuer_key, ())

    def revocation_status(self, issuer: Certificate, at: datetime) -> tuple[RevocationState, datetime | None]:
        """Whether the CRLs of ``issuer``'s key can show a certificate is *not* revoked at ``at``.

        (``REVOCATION_CURRENT``, ``REVOCATION_STALE`` or ``REVOCATION_NO_CRL``, and the
        nextUpdate of the newest CRL of that key.)
        """
        crl = self._newest_crl.get(issuer.spki)
        if crl is None:
            return REVOCATION_NO_CRL, None
        if crl.next_update is None or at > crl.next_update:
            return REVOCATION_STALE, crl.next_update
        return REVOCATION_CURRENT, crl.next_update

    def stale_crls(self, at: datetime) -> list[CRL]:
        """The newest CRL of each CSCA key, where that CRL is past its nextUpdate at ``at``."""
        return [c for c in self._newest_crl.values() if c.next_update is None or at > c.next_update]

    def next_crl_update(self) -> datetime | None:
        """The earliest nextUpdate among the newest CRLs per CSCA: when the first goes stale."""
        dates = [c.next_update for c in self._newest_crl.values() if c.next_update is not None]
        return min(dates) if dates else None

    def _compute_version(self) -> str:
        prints = sorted(c.fingerprint for c in self.certificates) + sorted(
            "crl:" + c.fingerprint for c in getattr(self, "crls", ()))
        return hashlib.sha256("\n".join(prints).encode("ascii")).hexdigest()[:16]

    def summary(self) -> dict:
        """For logs and the admin endpoint: counts and sources, no certificates."""
        return {
            "version": self.version,
            "csca_count": self.count,
            "countries": self.countries(),
            "crl_count": len(self.crls),
            "master_lists": [{"path": m.path, "signer": m.signer_subject, "csca_count": m.csca_count}
                             for m in self.master_lists],
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def _is_ca(cert: Certificate) -> bool:
    if cert.is_ca:
        return True
    return cert.key_usage is not None and "key_cert_sign" in cert.key_usage


if TYPE_CHECKING:
    from docval.emrtd.trustview import TrustView

    # mypy fails here when TrustStore stops providing what PA reads through TrustView.
    _conforms: TrustView = TrustStore()
