"""What may reach a log line from a session: phone strings made safe, failures without values."""
from __future__ import annotations

import traceback

from twisted.python.failure import Failure

from docval.emrtd.errors import EmrtdError
from docval.errors import SessionError


def loggable(value: str | None, limit: int = 64) -> str:
    """A phone-supplied string made safe for a log line (no control characters, bounded)."""
    if value is None:
        return "-"
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in value[:limit])
    return cleaned + ("..." if len(value) > limit else "")


def where(exc: BaseException | Failure) -> str:
    """Code locations of a failure, innermost last, without any values."""
    if isinstance(exc, Failure):
        frames = [(f[1], f[2], f[0]) for f in (exc.frames or [])]
    else:
        frames = [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(exc.__traceback__)]
    return " <- ".join(f"{name} ({file.rsplit('/', 1)[-1]}:{line})" for file, line, name in reversed(frames[-6:]))


def detail(exc: BaseException) -> str:
    """What went wrong, for the log.  Our own exception types promise data-free
    messages (docval.emrtd.errors, docval.errors); anything else is named by type only."""
    if isinstance(exc, (EmrtdError, SessionError)):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__
