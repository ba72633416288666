"""Real trust anchors from the real-document data set (tests/testdata.py), loaded once per test session.

The German master list is ~900 KB with ~600 certificates: parse it once and
share the store between test modules (a module-level cache lives as long as
the pytest process).
"""
from __future__ import annotations

import functools

from docval.trust.store import TrustStore

from tests.testdata import TESTDATA
MASTER_LISTS = TESTDATA / "master_lists"
DE_ML = MASTER_LISTS / "DE_ML_2026-05-28-08-28-45.ml"
NL_ML = MASTER_LISTS / "NL_ML_2026-07-22.ml"
# The publishers' own CSCAs, pinned independently of their lists (a list never vouches for itself).
DE_ROOT = MASTER_LISTS / "DE_ROOT_CA_CSCA07.cer"
NL_ROOT = MASTER_LISTS / "NL_ROOT_CA.cer"
IDN_CSCA = MASTER_LISTS / "IDN_CSCA"
SOD_DIR = TESTDATA / "sod"
BSI_ETSI = TESTDATA / "bsi_etsi"
CARD_SECURITY = TESTDATA / "cardsecurity"


@functools.lru_cache(maxsize=None)
def de_store() -> TrustStore:
    return TrustStore.load([DE_ROOT, DE_ML])


@functools.lru_cache(maxsize=None)
def nl_store() -> TrustStore:
    return TrustStore.load([NL_ROOT, NL_ML])


@functools.lru_cache(maxsize=None)
def real_store() -> TrustStore:
    """Both master lists with their pinned roots and the Indonesian CSCAs, as an operator would configure them."""
    return TrustStore.load([DE_ROOT, DE_ML, NL_ROOT, NL_ML, IDN_CSCA])
