"""The seam between the session core (docval.ws.protocol) and an API's message handling.

The core owns what every session has whatever its API: the Autobahn callbacks, the start
and session timers, closing with the documented reasons, the end-of-session line, the
result post and its rule ("once the post starts, the post decides"), deaf mode and the
metrics.  A front end owns what the phone's messages mean: ``/ws1/validate``
(:mod:`docval.ws.v1session`) and ``/ws2/validate`` (:mod:`docval.ws.v2session`).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from docval.config import ClientConfig
    from docval.errors import Close
    from docval.ws.services import Services


def encode(obj: dict[str, Any]) -> bytes:
    """A text message as sent: compact JSON, UTF-8."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


class Session(Protocol):
    """What a front end may ask of the session core."""

    services: "Services"

    @property
    def session_id(self) -> str: ...

    @property
    def phase(self) -> str: ...

    def send_text(self, obj: dict[str, Any]) -> None: ...

    def send_binary(self, payload: bytes) -> None: ...

    def send_encoded(self, payload: bytes) -> None:
        """A text message already encoded (see :func:`encode`)."""

    def note_start(self, validation_id: str | None, platform: str | None) -> None:
        """What the phone said about itself, for the end line (also for refused starts)."""

    def accept(self, client: "ClientConfig") -> None:
        """The start message is valid: stop the start timer and begin reading."""

    def begin_step(self, name: str | None) -> None: ...

    def result_ready(self, emrtd: dict[str, Any], deliver: Callable[[], None]) -> None:
        """Post ``emrtd`` when the client has a Result Server, then ``deliver`` (send the
        success messages) and close 1000; without one, deliver at once."""

    def fail(self, exc: BaseException, failure: "Failure | None" = None) -> None: ...

    def ignore(self, kind: str, size: int) -> None:
        """A phone message while the result is posted: logged by type and size only."""

    def log_bug(self, exc: "BaseException | Failure") -> None: ...


class FrontEnd(Protocol):
    protocol: str                    # "v1" or "v2": the metrics label and the end line's api=
    summary: dict[str, Any] | None   # algorithms and verdicts for the end line (no personal data)

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        """A phone message before the result post; raise a SessionError to close."""

    def on_late_message(self, payload: bytes, is_binary: bool) -> None:
        """A phone message while the result is posted."""

    def close_message(self, close: "Close") -> dict[str, Any]:
        """The text message sent just before the close frame."""

    def outlives_phone(self) -> bool:
        """True when the session's work goes on after the phone left (v2 after FINISH)."""

    def stop(self) -> None:
        """Cancel the front end's own timers and work (the session is ending)."""

    def counters(self) -> tuple[int, int, int]:
        """APDUs relayed, bytes sent and received in them, for the end line."""
