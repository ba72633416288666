"""Pure ICAO 9303 code: bytes in, bytes and objects out.

Nothing in this package imports Twisted, touches a socket or the clock, or logs
document data.  Protocols are sans-IO flows (see :mod:`docval.emrtd.flow`).
"""
