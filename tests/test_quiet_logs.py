"""No Twisted noise per POST or per admin listener start: `Starting factory
_HTTP11ClientFactory(...)` and `Starting factory <AdminSite ...>` never reach the log."""
from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web import resource, server

from docval.admin import make_admin_service
from docval.metrics import Metrics
from docval.poster import ResultPoster


class _Accept(resource.Resource):
    isLeaf = True

    def render_POST(self, request):
        return b"ok"


def _capture() -> tuple[list[str], object]:
    lines: list[str] = []

    def observe(event):
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    return lines, observe


@pytest_twisted.ensureDeferred
async def test_posting_results_logs_no_factory_lines():
    site = server.Site(_Accept())
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    poster = ResultPoster(reactor)
    lines, observe = _capture()
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/results"
        for n in range(2):
            await poster.post(url, {"passive_authentication": True}, f"vid-{n}")
        await poster.close()
    finally:
        globalLogPublisher.removeObserver(observe)
        await port.stopListening()
    assert not [line for line in lines if "Starting factory" in line or "Stopping factory" in line], lines


@pytest_twisted.ensureDeferred
async def test_the_admin_endpoint_starts_without_a_factory_line():
    lines, observe = _capture()
    service = make_admin_service("tcp:0:interface=127.0.0.1", Metrics(), lambda: (True, {}),
                                 reactor=reactor)
    try:
        service.privilegedStartService()
        service.startService()
        await service.when_listening()
    finally:
        await service.stopService()
        globalLogPublisher.removeObserver(observe)
    assert not [line for line in lines if "Starting factory" in line], lines
