"""The parts of the Kinegram WebSocket API v2 (``/ws2/validate``) that are not the WebSocket.

Pure code, no Twisted and no I/O: :mod:`~docval.v2.wire` (the messages on the wire),
:mod:`~docval.v2.states` (which message may come when), :mod:`~docval.v2.evidence` (how a v2
session's facts feed the shared verdict rules) and :mod:`~docval.v2.camel` (the camelCase
result sent to the phone).  The WebSocket front end in docval/ws drives them.
"""
