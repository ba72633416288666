"""An HTTP connection pool whose connection factories do not log.

Twisted's pool builds one ``_HTTP11ClientFactory`` per new connection to a Result Server,
and each logs ``Starting factory _HTTP11ClientFactory(...)`` and ``Stopping factory ...``:
two lines of noise for every POST that opens a connection.  The factory class is Twisted's
own (private, but the pool's documented extension point is this ``_factory`` attribute, the
same in Debian 12's Twisted 22.4 and today's releases); only ``noisy`` changes.
"""
from __future__ import annotations

from twisted.web.client import HTTPConnectionPool, _HTTP11ClientFactory


class _QuietHTTP11ClientFactory(_HTTP11ClientFactory):
    noisy = False


class QuietConnectionPool(HTTPConnectionPool):
    _factory = _QuietHTTP11ClientFactory
