"""The CSCA trust store: certificates, ICAO master lists, PKD LDIF files and CRLs.

No Twisted here: the server loads a fresh :class:`~docval.trust.store.TrustStore`
and swaps it in to reload.
"""
from docval.trust.store import TrustStore

__all__ = ["TrustStore"]
