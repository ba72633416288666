"""twistd entry point: ``twistd -n docval [--config FILE] [--listen ENDPOINT]``."""
from __future__ import annotations

from twisted.application.service import MultiService
from twisted.python import usage


class Options(usage.Options):
    synopsis = "[--config FILE] [--listen ENDPOINT]"
    longdesc = (
        "Runs the DocVal WebSocket server. Without --config it runs on built-in demo "
        "defaults: 127.0.0.1:8080, one client 'YOUR CLIENT ID' without a Result Server, "
        "trusting the demo CSCA of the virtual passport."
    )
    optParameters = [
        ["config", "c", None, "TOML configuration file (see /etc/docval/docval.toml)"],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        """Twisted endpoint string to listen on (repeatable); overrides [server] listen"""
        self["listen"].append(endpoint)


def makeService(options: Options) -> MultiService:
    # The WebSocket service is composed here once docval.ws lands (issue 5).
    return MultiService()
