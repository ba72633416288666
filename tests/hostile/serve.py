"""A DocVal server process for the socket-level hostile tests and the soak.

``python -m tests.hostile.serve '<json options>'`` runs the real service
(:class:`docval.tap.DocValService`) on 127.0.0.1:0 with the given timeouts and
connection limit, plus a tiny state endpoint on another loopback port, then
prints ``PORTS <ws> <state>`` on stdout.  ``GET /state`` answers what the soak
compares against its baseline: open sessions, result posts in flight, pending
DelayedCalls, RSS and open file descriptors of this process.  Logs go to stderr.
"""
from __future__ import annotations

import gc
import json
import os
import sys
from dataclasses import replace


INFRASTRUCTURE_CALLS = {"HTTPFactory._updateLogDateTime", "HTTPConnectionPool._removeConnection"}


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str]) -> None:
    opts = json.loads(argv[1]) if len(argv) > 1 else {}
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web import resource, server

    from docval.config import ClientConfig, Config, ServerConfig, Timeouts, TrustConfig
    from docval.tap import DocValService

    level_all = textFileLogObserver(sys.stderr)
    globalLogBeginner.beginLoggingTo([level_all], redirectStandardIO=False)
    clients = [ClientConfig(client_id="YOUR CLIENT ID")]
    if opts.get("result_url"):
        clients.append(ClientConfig(client_id="posting-client", result_url=opts["result_url"]))
    config = Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",),
                            max_connections=int(opts.get("max_connections", 1000))),
        timeouts=replace(Timeouts(), **opts.get("timeouts", {})),
        trust=TrustConfig(demo_csca=True, reload_interval=0),
        clients=tuple(clients),
    )
    service = DocValService(config, reactor)
    service.startService()
    ws_port = service.listeners[0].port.getHost().port
    baseline_calls = {"n": None}

    class State(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            gc.collect()
            calls = [c for c in reactor.getDelayedCalls() if c.active()]
            names = [getattr(c.func, "__qualname__", repr(c.func)) for c in calls]
            # One connection pool per Result Server TLS configuration (docval.poster).
            pools = getattr(service.poster, "_pools", [])
            cached = sum(len(v) for pool in pools for v in getattr(pool, "_connections", {}).values())
            body = {
                # timers that belong to no session: the access-log clock and idle
                # keep-alive connections of the Result Server pool
                "session_calls": sum(1 for n in names if n not in INFRASTRUCTURE_CALLS),
                "pool_connections": cached,
                "sessions": len(service.factory.sessions),
                "posts": len(service.factory.posts),
                "delayed_calls": len(calls),
                "delayed_call_names": sorted({getattr(c.func, "__qualname__", repr(c.func)) for c in calls})[:20],
                "rss_kb": _rss_kb(),
                "fds": _fds(),
            }
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(body).encode()

    site = server.Site(State())
    site.displayTracebacks = False
    state_port = reactor.listenTCP(0, site, interface="127.0.0.1").getHost().port
    print(f"PORTS {ws_port} {state_port}", flush=True)
    del baseline_calls
    reactor.run()


if __name__ == "__main__":
    main(sys.argv)
