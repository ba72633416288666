"""What a chip-side protocol (BAC, PACE, CA, AA) may see of the virtual chip.

The mechanisms depend on this narrow interface rather than on
:class:`docval.sim.chip.VirtualChip`, which imports them: no import cycle, and
a mechanism cannot reach into the chip's file system or transport state.
"""
from __future__ import annotations

from typing import Callable, Protocol

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.sm import SecureMessaging


class ChipContext(Protocol):
    """The chip services a mechanism uses: randomness, the challenge, SM and the access flag."""

    rng: Callable[[int], bytes]
    access_granted: bool

    def take_challenge(self) -> bytes | None: ...

    def start_sm(self, sm: SecureMessaging) -> None: ...

    def start_sm_after_response(self, sm: SecureMessaging) -> None: ...

    def drop_sm(self) -> None: ...


class Mechanism(Protocol):
    """A protocol run with MSE + GENERAL AUTHENTICATE (PACE, Chip Authentication)."""

    def accepts_mse(self, chip: ChipContext, cmd: CommandAPDU) -> bool: ...

    def mse(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU: ...

    def general_authenticate(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU: ...
