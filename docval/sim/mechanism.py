"""How everything that answers a command plugs into the virtual chip.

The chip core (:class:`docval.sim.chip.VirtualChip`) only carries commands: it
unwraps and wraps Secure Messaging, joins ISO/IEC 7816-4 command chains,
answers GET CHALLENGE, keeps the security status, and hands every other
command to one entry of its registry, ``chip.mechanisms``.  Each entry is a
:class:`Mechanism`: the file commands (:mod:`docval.sim.file_chip`), BAC
(:mod:`docval.sim.bac_chip`), PACE (:mod:`docval.sim.pace_chip`), Chip
Authentication (:mod:`docval.sim.ca_chip`), Active Authentication
(:mod:`docval.sim.aa_chip`), and whatever a test plugs in.

The chip routes a plain (SM-unwrapped) command this way:

* MSE (INS 22): the first mechanism that :meth:`~Mechanism.claims` it answers,
  and becomes the chip's current security environment (ISO 7816-4 §7.5.11);
  no taker: 6A86.
* GENERAL AUTHENTICATE (INS 86) continues what the last MSE set up: it goes to
  the current security environment if that mechanism claims it, else 6985.
* Any other instruction: the first mechanism that claims it; no taker: 6D00.

A mechanism with ``requires_access`` is answered 6982 by the chip until access
control succeeded (unless the chip's quirks say nothing needs it).  Command
chaining: MSE chains are always joined (claiming needs the whole command); a
chained GENERAL AUTHENTICATE is joined for a mechanism with
``reassembles_chains`` (Chip Authentication) and passed on part by part
otherwise (PACE uses CLA b5 to mark its protocol steps); any other chained
command is refused with 6884.

Mechanisms see the chip only through :class:`ChipContext`, passed to each
:meth:`~Mechanism.answer`: randomness, the last challenge, the security status
and Secure Messaging, which a mechanism starts (BAC, PACE: the answer already
goes out under the new keys when the command was protected) or replaces after
its answer (Chip Authentication: the answer still goes out under the old keys).
No mechanism imports the chip, so there is no import cycle.

One mechanism object serves one chip: it keeps its protocol run in its own
attributes.  The profiles (:mod:`docval.sim.profiles`) build a fresh set per chip.
"""
from __future__ import annotations

from typing import Callable, Protocol

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.files import FileRef
from docval.emrtd.sm import SecureMessaging
from docval.sim.quirks import ChipQuirks


class ChipContext(Protocol):
    """What a mechanism may see and change of the chip it is plugged into."""

    rng: Callable[[int], bytes]
    access_granted: bool
    quirks: ChipQuirks

    @property
    def sm_active(self) -> bool:
        """Whether Secure Messaging is in force."""
        ...

    def may_read(self, ref: FileRef) -> bool:
        """Whether the security status lets the terminal read this file now."""
        ...

    def take_challenge(self) -> bytes | None:
        """The last GET CHALLENGE answer, usable once."""
        ...

    def start_sm(self, sm: SecureMessaging) -> None:
        """Install SM keys now (the current answer, if protected, uses them)."""
        ...

    def start_sm_after_response(self, sm: SecureMessaging) -> None:
        """Install SM keys once the current answer is wrapped with the old ones."""
        ...

    def drop_sm(self) -> None:
        """End Secure Messaging and the security status: access control must run again."""
        ...


class Mechanism(Protocol):
    """One protocol of the chip: which commands it claims and how it answers them.

    Subclass it to inherit the defaults below, or provide the same members.
    """

    #: The chip answers 6982 instead until access control succeeded (Active Authentication).
    requires_access: bool = False
    #: A chained GENERAL AUTHENTICATE reaches :meth:`answer` joined (Chip Authentication).
    reassembles_chains: bool = False

    def claims(self, cmd: CommandAPDU) -> bool:
        """Whether this mechanism answers ``cmd`` (see the module docstring for the routing)."""
        ...

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        """The plain answer; the chip wraps it in Secure Messaging when the command was."""
        ...
