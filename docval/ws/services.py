"""What one WebSocket session needs from the service around it, as an interface.

The session (docval.ws.protocol) depends on this small surface rather than on the factory class,
so the two modules no longer import each other; ``ValidateServerFactory`` is the implementation
the service runs, tests may pass anything with these members.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from twisted.internet import defer

    from docval.config import ClientConfig, Config
    from docval.status import Status
    from docval.ws.startmessage import StartMessage


@runtime_checkable
class SessionHost(Protocol):
    config: "Config"
    clock: Any          # IReactorTime
    metrics: Any        # docval.metrics.Metrics or NullMetrics

    def session_opened(self, session: Any) -> None: ...

    def session_closed(self, session: Any) -> None: ...

    def sessions_with_validation_id(self, session: Any, validation_id: str) -> int: ...

    def read_params(self, start: "StartMessage", client: "ClientConfig") -> Any: ...

    def run_reader(self, transport: Any, params: Any,
                   progress: Callable[["Status"], None]) -> "defer.Deferred": ...

    def post_result(self, url: str, emrtd: dict[str, Any], validation_id: str, *,
                    session_id: str | None = None,
                    client: "ClientConfig | None" = None) -> "defer.Deferred": ...

    def sign_result(self, emrtd: dict[str, Any], validation_id: str, session_id: str) -> str: ...
