"""The one log line that ends every session (docs/operations.md): a record of what happened.

The session fills a :class:`SessionEnd` when it closes; the record owns the line's wording so
that the protocol code only collects facts.  Operators and tests grep this text: change it only
together with docs/operations.md.  Every field is already safe for a log line (phone-supplied
strings pass through ``loggable``; no document data is ever part of the record).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

TEMPLATE = (
    "session {session_id} ended: outcome={outcome} close_code={close_code} "
    "close_reason={close_reason} detail={detail} duration={duration:.3f}s "
    "client={client} validation_id={validation_id} platform={platform} steps=[{steps}] "
    "apdus={apdus} bytes_out={bytes_out} bytes_in={bytes_in} post={post} "
    "ignored_messages={ignored} algorithms={algorithms} api={api}"
)


@dataclass(frozen=True)
class SessionEnd:
    session_id: str
    outcome: str
    close_code: int
    close_reason: str | None
    detail: str | None
    duration: float
    client: str | None
    validation_id: str      # already made loggable
    platform: str           # already made loggable
    steps: Sequence[tuple[str, float]]
    apdus: int
    bytes_out: int
    bytes_in: int
    post: str | None
    ignored: int
    algorithms: dict[str, Any] | None
    api: str = "v1"          # the WebSocket API: "v1" (/ws1/validate) or "v2" (/ws2/validate)

    def fields(self) -> dict[str, Any]:
        """The line's fields as the structured log event carries them."""
        return {
            "session_id": self.session_id,
            "client": self.client or "-",
            "outcome": self.outcome,
            "close_code": self.close_code,
            "close_reason": self.close_reason or "-",
            "detail": self.detail or "-",
            "duration": self.duration,
            "validation_id": self.validation_id,
            "platform": self.platform,
            "steps": " ".join(f"{name}={seconds:.3f}s" for name, seconds in self.steps) or "-",
            "apdus": self.apdus,
            "bytes_out": self.bytes_out,
            "bytes_in": self.bytes_in,
            "post": self.post or "-",
            "ignored": self.ignored,
            "algorithms": json.dumps(self.algorithms, sort_keys=True) if self.algorithms else "-",
            "api": self.api,
        }

    def format(self) -> str:
        return TEMPLATE.format(**self.fields())
