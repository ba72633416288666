"""The WebSocket APIs over Autobahn: ``/ws1/validate`` (docs/websocket-api.md) and
``/ws2/validate`` (docs/websocket-api-v2.md)."""
from docval.ws.factory import ValidateServerFactory
from docval.ws.protocol import PATH, PATH_V2, ValidateServerProtocol

__all__ = ["PATH", "PATH_V2", "ValidateServerFactory", "ValidateServerProtocol"]
