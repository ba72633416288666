"""The read-only view of a trust store that Passive Authentication and the reader use.

It lives here, in the pure ICAO 9303 package, because PA (docval.emrtd.pa) is its
consumer and docval.emrtd must not import from the rest of docval. The product's
implementation is docval.trust.store.TrustStore; tests and benchmarks may pass
any object with these members. A store is a snapshot: none of these calls
changes it, so one read can use it from a worker thread while a reload builds
the next one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from .certificate import Certificate
from .lds.cms import SignerInfo

#: "current": the issuer's CRL is within its nextUpdate; "stale": past it;
#: "none": no CRL for the issuer's key.
RevocationState = Literal["current", "stale", "none"]


@runtime_checkable
class TrustView(Protocol):
    """Trust anchors (CSCAs), known signer certificates and revocation, as PA asks for them."""

    @property
    def version(self) -> str:
        """Names this snapshot in results and logs (a digest of its contents)."""
        ...

    def issuer_candidates(self, cert: Certificate) -> list[Certificate]:
        """Trusted certificates that may have issued ``cert`` (by key identifier, else by name)."""
        ...

    def signer_candidates(self, signer: SignerInfo) -> list[Certificate]:
        """Known document signer certificates matching a SignerInfo's sid."""
        ...

    def is_revoked(self, cert: Certificate, issuer: Certificate | None = None) -> bool:
        """True when a CRL of ``issuer`` (stale or not) lists ``cert``."""
        ...

    def revocation_status(self, issuer: Certificate, at: datetime) -> tuple[RevocationState, datetime | None]:
        """Freshness at ``at`` of the CRLs for ``issuer``'s key, and their nextUpdate."""
        ...
