import os
import tempfile

import pytest

from docval.sim import pki
# The real-document data set: where it is, the `testdata` marker, skips without it and the
# CI check that none was skipped when it is present (see tests/testdata.py).
from tests.testdata import (  # noqa: F401
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_makereport,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)


@pytest.fixture(scope="session")
def demo_trust():
    """A trust store holding only the demo CSCA the virtual passports chain to."""
    from docval.trust.store import TrustStore

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "demo-csca.pem"), "wb") as f:
            f.write(pki.demo_csca_pem())
        yield TrustStore.load([d])
