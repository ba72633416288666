"""The WebSocket API (SPEC §3): ``/ws1/validate`` over Autobahn."""
from docval.ws.factory import ValidateServerFactory
from docval.ws.protocol import PATH, ValidateServerProtocol

__all__ = ["PATH", "ValidateServerFactory", "ValidateServerProtocol"]
