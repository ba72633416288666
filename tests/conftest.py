import os
import tempfile

import pytest

from docval.sim import pki


@pytest.fixture(scope="session")
def demo_trust():
    """A trust store holding only the demo CSCA the virtual passports chain to."""
    from docval.trust.store import TrustStore

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "demo-csca.pem"), "wb") as f:
            f.write(pki.demo_csca_pem())
        yield TrustStore.load([d])
