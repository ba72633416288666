"""The virtual chip's file system: a master file and the eMRTD application.

Two dedicated files, each a table of elementary files addressed by FID and SFI
(ICAO 9303-10 §3).  The selection state (current DF, current EF) lives here so
that SELECT and READ BINARY with SFI change it the way ISO 7816-4 says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from docval.emrtd.files import EMRTD_AID, MAX_FILE_SIZE, FileRef


@dataclass
class ElementaryFile:
    ref: FileRef
    content: bytes

    def __repr__(self) -> str:
        return f"ElementaryFile({self.ref.name}, {len(self.content)} bytes)"


class DedicatedFile:
    """The EFs of one DF, by FID and by SFI."""

    def __init__(self, name: str, files: Mapping[FileRef, bytes]):
        self.name = name
        self.by_fid: dict[int, ElementaryFile] = {}
        self.by_sfi: dict[int, ElementaryFile] = {}
        for ref, content in files.items():
            self.put(ref, content)

    def put(self, ref: FileRef, content: bytes) -> None:
        """Add or replace a file (profiles use it to tamper with a data group)."""
        if len(content) > MAX_FILE_SIZE:
            raise ValueError(f"{ref.name} is larger than {MAX_FILE_SIZE} bytes")
        ef = ElementaryFile(ref, bytes(content))
        old = self.by_fid.get(ref.fid)
        if old is not None and old.ref.sfi is not None:
            self.by_sfi.pop(old.ref.sfi, None)
        self.by_fid[ref.fid] = ef
        if ref.sfi is not None:
            self.by_sfi[ref.sfi] = ef

    def remove(self, ref: FileRef) -> None:
        ef = self.by_fid.pop(ref.fid, None)
        if ef is not None and ef.ref.sfi is not None:
            self.by_sfi.pop(ef.ref.sfi, None)

    def __repr__(self) -> str:
        return f"DedicatedFile({self.name}, {len(self.by_fid)} files)"


class FileSystem:
    """Master file + eMRTD application, with ISO 7816-4 selection state.

    The chip starts with the master file selected and no current EF, like a chip
    that was just powered; a phone may have selected anything since.
    """

    def __init__(self, master_files: Mapping[FileRef, bytes], app_files: Mapping[FileRef, bytes],
                 aid: bytes = EMRTD_AID):
        for ref in master_files:
            if ref.in_application:
                raise ValueError(f"{ref.name} belongs to the eMRTD application, not the master file")
        for ref in app_files:
            if not ref.in_application:
                raise ValueError(f"{ref.name} belongs to the master file, not the eMRTD application")
        self.master = DedicatedFile("MF", master_files)
        self.application = DedicatedFile("eMRTD", app_files)
        self.aid = bytes(aid)
        self.current_df = self.master
        self.current_ef: ElementaryFile | None = None

    def select_master(self) -> None:
        self.current_df = self.master
        self.current_ef = None

    def select_application(self, aid: bytes) -> bool:
        if bytes(aid) != self.aid:
            return False
        self.current_df = self.application
        self.current_ef = None
        return True

    def select_ef(self, fid: int) -> ElementaryFile | None:
        """SELECT an EF of the current DF; on failure the selection does not change."""
        ef = self.current_df.by_fid.get(fid)
        if ef is not None:
            self.current_ef = ef
        return ef

    def __repr__(self) -> str:
        return f"FileSystem({self.master!r}, {self.application!r})"
