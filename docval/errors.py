"""Session failures and the one table that maps them to close reasons (docs/websocket-api.md, closing).

Code raises exceptions; only :func:`close_for` turns them into a WebSocket close
code and reason, so no reason string is written anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd import errors as emrtd


@dataclass(frozen=True)
class Close:
    code: int
    reason: str | None   # None only for success


SUCCESS = Close(1000, None)


class SessionError(Exception):
    """A failure of the session itself (as opposed to the chip's data)."""


class StartMessageTimeout(SessionError):
    pass


class ResponseTimeout(SessionError):
    pass


class MaxSessionTimeExceeded(SessionError):
    pass


class UnexpectedMessage(SessionError):
    pass


class InvalidStartMessage(SessionError):
    pass


class InvalidAccessKey(SessionError):
    pass


class InvalidClientId(SessionError):
    pass


class ConnectionLost(SessionError):
    """The phone went away; nothing is sent back."""


class ResultPostFailed(SessionError):
    pass


class ServerError(SessionError):
    pass


# Order matters: the first matching class wins, so subclasses come before bases.
_TABLE: tuple[tuple[type[BaseException], Close], ...] = (
    (StartMessageTimeout, Close(1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")),
    (ResponseTimeout, Close(1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")),
    (MaxSessionTimeExceeded, Close(1011, "MAX_SESSION_TIME_EXCEEDED")),
    (UnexpectedMessage, Close(1008, "UNEXPECTED_MESSAGE")),
    (InvalidStartMessage, Close(1008, "INVALID_START_MESSAGE")),
    (InvalidAccessKey, Close(1008, "INVALID_ACCESS_KEY_VALUES")),
    (InvalidClientId, Close(4401, "INVALID_CLIENT_ID")),
    # 4403 tells the user to check the CAN/MRZ: only when the session's first access
    # control fails.  Failing again after it once succeeded is the relay's fault.
    (emrtd.AccessControlLost, Close(1011, "COMMUNICATION_FAILED")),
    (emrtd.AccessControlError, Close(4403, "ACCESS_CONTROL_FAILED")),
    (emrtd.CommunicationError, Close(1011, "COMMUNICATION_FAILED")),
    (ConnectionLost, Close(1011, "COMMUNICATION_FAILED")),
    (emrtd.FileReadError, Close(1011, "FILE_READ_ERROR")),
    (ResultPostFailed, Close(1011, "POST_TO_RESULT_SERVER_FAILED")),
    (emrtd.EmrtdError, Close(1011, "EMRTD_PASSPORT_READER_ERROR")),
    (ServerError, Close(1011, "SERVER_ERROR")),
)

SERVER_ERROR = Close(1011, "SERVER_ERROR")

ALL_REASONS = tuple(sorted({close.reason for _, close in _TABLE if close.reason}))


def close_for(exc: BaseException) -> Close:
    """The close code and reason for a failure; unknown exceptions are server errors."""
    for cls, close in _TABLE:
        if isinstance(exc, cls):
            return close
    return SERVER_ERROR
