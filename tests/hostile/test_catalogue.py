"""Every row of the hostile-input catalogue (the table in docs/reliability.md) has a test
named after its ID, and every hostile chip behaviour of tests.support.hostile_chips names a
row that exists.

When the real-document data set comes with an external copy of the catalogue
(``$DOCVAL_TESTDATA/../HOSTILE_INPUTS.md``), every ID in it must be in the project's table
and have a test too, so the two cannot drift apart unnoticed.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support.hostile_chips import BEHAVIOURS, hostile_chip
from tests.support.hostile_phones import phone_behaviours
from tests.testdata import TESTDATA

pytestmark = pytest.mark.hostile

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE.parents[1] / "docs" / "reliability.md"
EXTERNAL = TESTDATA.parent / "HOSTILE_INPUTS.md"
_ROW = re.compile(r"^\| ([A-Z]\d+) \|", flags=re.M)


def ids_in(path: Path) -> list[str]:
    return _ROW.findall(path.read_text(encoding="utf-8"))


def catalogue_ids() -> list[str]:
    return ids_in(CATALOGUE)


def defined_test_names() -> set[str]:
    names = set()
    for path in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def _without_test(ids: list[str]) -> list[str]:
    names = defined_test_names()
    return [i for i in ids if not any(n.startswith(f"test_{i}_") for n in names)]


def test_the_catalogue_table_is_well_formed():
    ids = catalogue_ids()
    assert ids, f"no catalogue rows found in {CATALOGUE}"
    assert len(ids) == len(set(ids)), "an ID appears twice in the catalogue"
    # every transport, protocol, APDU, SM, TLV, key, PKI, content and API v2 group is present
    assert {i[0] for i in ids} == set("WPASTKXDV")


def test_every_catalogue_id_has_a_test():
    assert _without_test(catalogue_ids()) == []


@pytest.mark.testdata
def test_every_id_of_the_external_catalogue_is_in_ours_and_tested():
    if not EXTERNAL.is_file():
        pytest.skip(f"no external catalogue beside DOCVAL_TESTDATA (looked for {EXTERNAL})")
    external = ids_in(EXTERNAL)
    assert external, f"no catalogue rows found in {EXTERNAL}"
    assert sorted(set(external) - set(catalogue_ids())) == []
    assert _without_test(external) == []


def test_every_behaviour_names_a_catalogue_row():
    ids = set(catalogue_ids())
    assert {b.row for b in BEHAVIOURS.values()} <= ids
    rows = {b.row for b in phone_behaviours({"can": "123456"}).values()}
    assert rows - {"W"} <= ids


def test_unknown_behaviour_names_are_refused_with_the_list():
    with pytest.raises(KeyError, match="bad-mac"):
        hostile_chip("no-such-behaviour")
