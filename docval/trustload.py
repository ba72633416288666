"""The trust anchors the server starts with, and the guard that keeps the demo CSCA off
listeners other machines can reach.

The demo CSCA signs the virtual passports of ``docval-sim``; its private key ships with
DocVal, so anyone can make a "genuine" document under it.  ``[trust] demo_csca`` (or an
imported copy of the certificate) is therefore refused unless every listener is on
loopback, at start-up and on every reload.
"""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from docval.emrtd.certificate import parse_certificate
from docval.endpoints import is_loopback
from docval.sim.pki import demo_csca_der, demo_csca_pem
from docval.trust.store import TrustStore

if TYPE_CHECKING:
    from docval.config import TrustConfig


def load_trust(trust_config: TrustConfig) -> TrustStore:
    """A fresh TrustStore from the [trust] section (plus the demo CSCA if asked)."""
    if not trust_config.demo_csca:
        return TrustStore.load(trust_config.csca, trust_config.crl)
    if not trust_config.csca and not trust_config.crl:
        return TrustStore.from_certificates([demo_csca_pem()])
    return _with_extra_anchor(trust_config, demo_csca_pem())


def _with_extra_anchor(trust_config: TrustConfig, pem: bytes) -> TrustStore:
    # TrustStore reads anchors from paths; the demo CSCA (a public certificate)
    # goes through a private temporary file that is removed right after.
    fd, path = tempfile.mkstemp(suffix=".pem", prefix="docval-demo-csca-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return TrustStore.load(list(trust_config.csca) + [path], trust_config.crl)
    finally:
        os.unlink(path)


def exposed_listener(config: Any) -> tuple[str, str] | None:
    """The first listener reachable from other machines, as (key, endpoint), if any."""
    for key, endpoints in (("[server] listen", config.server.listen), ("[admin] listen", config.admin.listen)):
        for endpoint in endpoints:
            if not is_loopback(endpoint):
                return key, endpoint
    return None


_demo_fingerprint: list[str] = []


def holds_demo_csca(store: Any) -> bool:
    """True when ``store`` trusts the demo CSCA, however it got there (flag or imported file)."""
    if not _demo_fingerprint:
        _demo_fingerprint.append(parse_certificate(demo_csca_der()).fingerprint)
    return any(c.fingerprint == _demo_fingerprint[0] for c in getattr(store, "certificates", ()))
