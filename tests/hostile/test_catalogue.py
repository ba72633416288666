"""Every row of ../shared/HOSTILE_INPUTS.md has a test named after its ID, and every
hostile chip behaviour shipped in docval.sim.hostile names a row that exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from docval.sim.hostile import BEHAVIOURS, hostile_chip
from docval.sim.hostile_phone import phone_behaviours

pytestmark = pytest.mark.hostile

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE.parents[1] / ".." / "shared" / "HOSTILE_INPUTS.md"


def catalogue_ids() -> list[str]:
    return re.findall(r"^\| ([A-Z]\d+) \|", CATALOGUE.read_text(), flags=re.M)


def defined_test_names() -> set[str]:
    names = set()
    for path in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_every_catalogue_id_has_a_test():
    ids = catalogue_ids()
    assert len(ids) == 54
    names = defined_test_names()
    missing = [i for i in ids if not any(n.startswith(f"test_{i}_") for n in names)]
    assert missing == []


def test_every_behaviour_names_a_catalogue_row():
    ids = set(catalogue_ids())
    assert {b.row for b in BEHAVIOURS.values()} <= ids
    rows = {b.row for b in phone_behaviours({"can": "123456"}).values()}
    assert rows - {"W"} <= ids


def test_unknown_behaviour_names_are_refused_with_the_list():
    with pytest.raises(KeyError, match="bad-mac"):
        hostile_chip("no-such-behaviour")
