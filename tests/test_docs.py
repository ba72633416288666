"""The repository stands on its own: README, docs, the shipped configuration and the Debian
files point at nothing outside it, and the README shows where things are."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|shared/testdata|SPEC\.md|SPEC §|HOSTILE_INPUTS|DESIGN\.md|KINEGRAM_V2")


def shipped_texts():
    yield ROOT / "README.md"
    yield ROOT / "etc" / "docval.toml"
    yield from sorted((ROOT / "docs").rglob("*.md"))
    yield from sorted((ROOT / "docs").rglob("*.conf"))
    yield from sorted(p for p in (ROOT / "debian").rglob("*") if p.is_file())


def test_nothing_shipped_points_outside_the_repository():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in shipped_texts()
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if OUTSIDE.search(line)]
    assert found == []


def test_the_code_cites_only_the_projects_own_docs():
    # Comments and docstrings point at docs/, never at the notes the code was written from.
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for top in ("docval", "bench")
             for path in sorted((ROOT / top).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if OUTSIDE.search(line)]
    assert found == []


def test_readme_links_operations_and_lists_the_layout():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/operations.md)" in readme
    layout = readme[readme.index("## Layout"):]
    for path in ("docs/", "bench/", "debian/", "tests/", "etc/docval.toml"):
        assert re.search(rf"^\| `{re.escape(path)}", layout, re.M), path
    for command in ("scripts/demo", "scripts/test"):
        assert (ROOT / command).is_file() and f"{command}     #" in readme
