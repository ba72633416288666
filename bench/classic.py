"""The classic read strategy, the baseline the benchmarks compare DocVal's reader with.

What a JMRTD-based reader does whatever the phone offers: SELECT each file by its
FID, read 8 bytes to learn its length, then the rest in chunks of 223 bytes (the
largest plain Le whose Secure Messaging answer fits a short APDU), one command
per round trip (:meth:`docval.emrtd.files.ReadLimits.classic`).  It is a
:class:`docval.prefetch.Scheduler` that sizes every read that way; the reader's
procedure (what is read in which order) is unchanged, so the comparison isolates
how files are read.  It exists for benchmarks only.
"""
from __future__ import annotations

from docval.emrtd import files
from docval.prefetch import Scheduler


class ClassicScheduler(Scheduler):
    def read_limits(self, old: files.ReadLimits | None) -> files.ReadLimits:
        # Fixed for the whole session: nothing learned from the phone or the chip changes it.
        return files.ReadLimits.classic(self._caps)
