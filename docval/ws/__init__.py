"""The WebSocket API (docs/websocket-api.md): ``/ws1/validate`` over Autobahn."""
from docval.ws.factory import ValidateServerFactory
from docval.ws.protocol import PATH, ValidateServerProtocol

__all__ = ["PATH", "ValidateServerFactory", "ValidateServerProtocol"]
