"""Strict decoding of the JSON text a phone sends: bounded before ``json`` sees it.

The phone is attacker-controlled, so its text is refused before parsing when it is too
large or nested too deeply (``json`` recurses once per level), and while parsing when it
holds duplicate keys (which copy would a later reader see?), NaN/Infinity (not JSON) or
integer literals long enough to cost quadratic time to convert.  Every refusal is raised
as the caller's own exception type with a short message that never repeats the input.

One decoder for both APIs: v1's StartMessage (docval/ws/startmessage.py) and the v2 text
messages (docval/v2/wire.py); pure (no Twisted), so docval.v2 stays free of the WebSocket layer.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

#: Error factory: a message (never containing input data) -> the exception to raise.
ErrorFactory = Callable[[str], Exception]


def check_depth(text: str, max_depth: int, error: ErrorFactory) -> None:
    """Refuse nesting deeper than ``max_depth`` before json recurses into it."""
    depth = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > max_depth:
                raise error("nested too deeply")
        elif c in "]}":
            depth -= 1


class _Refused(Exception):
    """Carries the caller's exception out of json's hooks (json would wrap a ValueError)."""

    def __init__(self, exc: Exception):
        super().__init__()
        self.exc = exc


def loads(payload: bytes, *, max_bytes: int, max_depth: int, max_number_digits: int,
          error: ErrorFactory) -> Any:
    """Decode UTF-8 JSON text under the limits; any defect raises ``error(message)``."""
    if len(payload) > max_bytes:
        raise error(f"larger than {max_bytes} bytes")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise error("not UTF-8") from None
    check_depth(text, max_depth, error)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _Refused(error("duplicate key"))
            out[key] = value
        return out

    def parse_int(s: str) -> int:
        if len(s.lstrip("-")) > max_number_digits:
            raise _Refused(error("number too long"))
        return int(s)

    def parse_constant(name: str) -> Any:
        raise _Refused(error("NaN and Infinity are not JSON"))

    def parse_float(s: str) -> float:
        value = float(s)
        if not math.isfinite(value):     # 1e999 would quietly become Infinity
            raise _Refused(error("number out of range"))
        return value

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_int=parse_int,
                          parse_float=parse_float, parse_constant=parse_constant)
    except _Refused as refused:
        raise refused.exc from None
    except (ValueError, RecursionError):
        # JSONDecodeError's message holds a position only, but it is not repeated anyway.
        raise error("not JSON") from None
