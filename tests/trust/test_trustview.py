"""TrustStore is what PA reads through docval.emrtd.trustview.TrustView."""
from __future__ import annotations

import inspect

from docval.emrtd.trustview import TrustView
from docval.trust.store import TrustStore


def test_trust_store_provides_every_member_of_the_view():
    store = TrustStore()
    assert isinstance(store, TrustView)
    # runtime_checkable only checks that the names exist: the parameters must match too.
    for name in ("issuer_candidates", "signer_candidates", "is_revoked", "revocation_status"):
        assert (list(inspect.signature(getattr(TrustStore, name)).parameters)
                == list(inspect.signature(getattr(TrustView, name)).parameters)), name
    assert isinstance(store.version, str) and store.version
