"""Random number generators for tests: the ``rng(n) -> bytes`` callables the flows and the
virtual chip take in place of ``os.urandom``.

* :class:`ScriptedRng` replays a worked example's draws (BAC's RND.IFD and K.IFD, PACE's
  nonce and ephemeral keys): each draw must be exactly the size the code asks for, so a
  flow that draws in another order or size fails at the draw, not three APDUs later.
* :func:`number_rng` always returns one fixed number, big-endian in however many bytes are
  asked for (a CA ephemeral key, an AA challenge).
* :func:`pattern_rng` is deterministic filler for recordings and fuzzing, where the values
  only have to repeat from run to run.
"""
from __future__ import annotations


class ScriptedRng:
    """Returns ``values`` in order; ``remaining`` holds the draws not yet taken."""

    def __init__(self, *values: bytes):
        self.remaining = list(values)

    def __call__(self, n: int) -> bytes:
        assert self.remaining, f"rng asked for {n} bytes after the scripted values ran out"
        value = self.remaining.pop(0)
        assert len(value) == n, f"rng asked for {n} bytes, the scripted value has {len(value)}"
        return value


def scripted_rng(*values: bytes) -> ScriptedRng:
    return ScriptedRng(*values)


def number_rng(value: bytes | str):
    """The number ``value`` (bytes or hex), right-aligned in every draw: zero-padded on the
    left when more bytes are asked for, its low bytes when fewer."""
    number = bytes.fromhex(value) if isinstance(value, str) else value
    return lambda n: number[-n:] if n <= len(number) else bytes(n - len(number)) + number


def pattern_rng(start: int, step: int = 1):
    """``start, start + step, ...`` (mod 256): the same bytes on every run."""
    return lambda n: bytes((start + step * i) & 0xFF for i in range(n))
