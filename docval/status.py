"""The read steps reported to the phone (docs/websocket-api.md, statuses), in the promised order.

One definition for the reader (which reports them), the WebSocket session (which relays them and
sends ``DONE`` itself) and the metrics (which label step durations with them).  It lives outside
``docval.ws`` because the reader must not import the WebSocket layer.  The values are the exact
names sent to the phone; being a ``StrEnum``, a member compares, hashes, formats and JSON-encodes
as that name.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    READ_ATR_INFO = "READ_ATR_INFO"
    ACCESS_CONTROL = "ACCESS_CONTROL"
    READ_SOD = "READ_SOD"
    READ_DG14 = "READ_DG14"
    CHIP_AUTHENTICATION = "CHIP_AUTHENTICATION"
    READ_DG15 = "READ_DG15"
    ACTIVE_AUTHENTICATION = "ACTIVE_AUTHENTICATION"
    READ_DG1 = "READ_DG1"
    READ_DG2 = "READ_DG2"
    READ_DG7 = "READ_DG7"
    READ_DG11 = "READ_DG11"
    READ_DG12 = "READ_DG12"
    PASSIVE_AUTHENTICATION = "PASSIVE_AUTHENTICATION"
    # Sent by the session, never by the reader: only once the result is safely posted.
    DONE = "DONE"

    @classmethod
    def read_dg(cls, number: int) -> "Status":
        """The status announcing the read of data group ``number`` (ValueError if it has none)."""
        return cls(f"READ_DG{number}")


#: All status names in the order the phone sees them.
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
