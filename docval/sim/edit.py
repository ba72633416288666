"""Editing a virtual chip's data groups: read them all, replace one, re-sign EF.SOD.

Used by the largest-document builder (:mod:`docval.sim.largest`) and by the tests'
hostile chips, which forge one data group and re-sign it with the demo DSC so the
forgery survives the hash check.
"""
from __future__ import annotations

from typing import Any

from docval.emrtd import files
from docval.sim import pki
from docval.sim.chip import VirtualChip


def app_files(chip: VirtualChip) -> dict[int, bytes]:
    """The data groups on the chip, by number."""
    out = {}
    for ef in chip.fs.application.by_fid.values():
        if ef.ref.name.startswith("EF.DG"):
            out[int(ef.ref.name[5:])] = ef.content
    return out


def put_dg(chip: VirtualChip, n: int, content: bytes, *, resign: bool = True,
           hash_name: str = "SHA-256", **sod_options: Any) -> None:
    """Replace a data group; ``resign`` issues a new EF.SOD over all DGs with the demo DSC."""
    chip.fs.application.put(files.dg(n), content)
    if resign:
        resign_sod(chip, hash_name=hash_name, **sod_options)


def resign_sod(chip: VirtualChip, *, hash_name: str = "SHA-256", **sod_options: Any) -> None:
    chip.fs.application.put(files.EF_SOD, pki.sod_for_data_groups(app_files(chip), hash_name=hash_name,
                                                                 **sod_options))
