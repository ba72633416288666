"""The pieces of an end-to-end run over real sockets on 127.0.0.1.

* :class:`ResultServer` -- a real twisted.web Result Server that records every POST
  and answers with a scripted list of statuses (200 once the script runs out).
* :class:`Stack` -- DocVal composed the way ``twistd -n docval --config FILE`` does it:
  a TOML file on disk, ``tap.Options().parseOptions(["--config", FILE])``,
  ``tap.makeService(options)``, ``startService()`` on the global reactor.
* :func:`run_traced_phone` -- the virtual phone of ``docval.sim.phone`` with an ordered
  trace of everything it saw, including the moment the close frame arrived.
* :class:`TapChip` -- wraps a virtual chip and records the raw commands and responses
  the phone relayed (to check APDU size limits the phone declared).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.web import resource, server

from docval import tap
from docval.sim import profiles
from docval.sim.phone import PhoneFactory, PhoneOptions, PhoneProtocol, access_key_json

POSTING = "e2e-posting-client"          # has a Result Server
FILES = "e2e-files-client"              # has a Result Server and files_binary = true
RETURNING = "YOUR CLIENT ID"            # no Result Server: results only go to the phone
RESULT_PATH = "/docval/results"


@dataclass
class Post:
    path: str
    content_type: list[str]
    body: dict[str, Any]
    at: float          # reactor time of arrival


HANG = "hang"          # a scripted answer: keep the request open, never answer it
HOLD = "hold"          # keep the request open until the test calls release()


class ResultServer(resource.Resource):
    """Records every POST; answers ``statuses`` in order, then 200."""

    isLeaf = True

    def __init__(self, statuses: list[Any] | None = None, clock: Any = None):
        super().__init__()
        self.statuses = list(statuses or [])
        self.decide: Any = None     # optional: body -> answer, instead of the script
        self.keep_bodies = True     # False: keep only the client_validation_id of each post
        self.posts: list[Post] = []
        self.held: list[Any] = []
        self.arrived: defer.Deferred = defer.Deferred()   # fires at the first POST
        self._clock = clock

    def render_POST(self, request: Any) -> Any:
        body = json.loads(request.content.read())
        types = request.requestHeaders.getRawHeaders(b"content-type") or []
        at = self._clock.seconds() if self._clock is not None else 0.0
        kept = body if self.keep_bodies else {"client_validation_id": body.get("client_validation_id")}
        self.posts.append(Post(request.path.decode(), [t.decode() for t in types], kept, at))
        if not self.arrived.called:
            self.arrived.callback(None)
        if self.decide is not None:
            answer = self.decide(body)
        else:
            answer = self.statuses.pop(0) if self.statuses else 200
        if answer in (HANG, HOLD):
            if answer == HOLD:
                self.held.append(request)
            return server.NOT_DONE_YET
        request.setResponseCode(answer)
        return b'{"ok": true}'

    def release(self, status: int = 200) -> None:
        for request in self.held:
            request.setResponseCode(status)
            request.write(b"{}")
            request.finish()
        self.held = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [p.body for p in self.posts]


def write_config(path: Path, result_url: str, timeouts: dict[str, float] | None = None,
                 listen: str | list[str] = "tcp:0:interface=127.0.0.1", max_connections: int | None = None,
                 limits: dict[str, int] | None = None) -> Path:
    listen_toml = json.dumps(listen)    # a JSON string or array of strings is valid TOML
    lines = ["[server]", f"listen = {listen_toml}"]
    if max_connections is not None:
        lines.append(f"max_connections = {max_connections}")
    lines += ["", "[timeouts]"]
    for key, value in (timeouts or {}).items():
        lines.append(f"{key} = {value}")
    if limits:
        lines += ["", "[limits]"] + [f"{key} = {value}" for key, value in limits.items()]
    lines += [
        "", "[trust]", "demo_csca = true", "reload_interval = 0", "",
        "[[client]]", f'client_id = "{POSTING}"', f'result_url = "{result_url}"', "",
        "[[client]]", f'client_id = "{FILES}"', f'result_url = "{result_url}"', "files_binary = true", "",
        "[[client]]", f'client_id = "{RETURNING}"', "",
    ]
    path.write_text("\n".join(lines))
    return path


class Stack:
    """A Result Server and DocVal (made by ``tap.makeService`` from a TOML file)."""

    def __init__(self, reactor: Any, tmp_path: Path, *, statuses: list[Any] | None = None,
                 timeouts: dict[str, float] | None = None, read_document: Any = None, **server_options: Any):
        self.reactor = reactor
        self.results = ResultServer(statuses, clock=reactor)
        self.result_port = reactor.listenTCP(0, server.Site(self.results), interface="127.0.0.1")
        self.result_url = f"http://127.0.0.1:{self.result_port.getHost().port}{RESULT_PATH}"
        self.config_path = write_config(tmp_path / "docval.toml", self.result_url, timeouts, **server_options)
        options = tap.Options()
        options.parseOptions(["--config", str(self.config_path)])
        # The product's own composition; a test that needs another reader passes it, as
        # makeService would if it took one.
        self.service = (tap.makeService(options) if read_document is None
                        else tap.DocValService(options.config, read_document=read_document))
        self.service.startService()
        self.factory = self.service.factory
        port = self.service.listeners[0].port.getHost().port
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ws1/validate"
        self.stopped = False

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.service.stopService()
        if self.result_port.connected:
            await self.result_port.stopListening()

    def phone(self, profile_name: str = profiles.DEFAULT_PROFILE, *, chip: Any = None,
              hook: Any = None, edit: Any = None, silent: bool = False,
              **options: Any) -> defer.Deferred:
        """Runs a traced phone holding ``profile_name``'s chip; fires with the Trace.
        ``edit`` rewrites the StartMessage; ``hook`` see :class:`TracingProtocol`."""
        profile = profiles.get_profile(profile_name)
        options.setdefault("access_key", access_key_json(profile.access_key))
        opts = CustomStart(edit, **options) if edit is not None else PhoneOptions(**options)
        chip = chip if chip is not None else profile.chip()
        return run_traced_phone(self.url, chip, opts, self.reactor, hook, silent)


# -- the traced phone -------------------------------------------------------------------------


@dataclass(repr=False)
class Trace:
    """Everything one phone session saw, in arrival order."""

    options: PhoneOptions
    # ("status", s) ("result", obj) ("close_message", obj) ("binary", n) ("text", raw)
    # ("close_frame", code, reason), and ("answer", n) for each response the phone sent
    events: list[tuple] = field(default_factory=list)
    record: Any = None                                  # docval.sim.phone.PhoneRecord

    def __repr__(self) -> str:   # never the result object: it holds personal data
        return f"Trace({self.record!r}, {len(self.events)} events)"

    @property
    def statuses(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "status"]

    @property
    def result(self) -> dict[str, Any] | None:
        return self.record.result

    @property
    def close(self) -> tuple[int | None, str | None]:
        return self.record.close_code, self.record.close_reason

    def outline(self) -> list:
        """The last events, without the result object (for assertion messages)."""
        return [e if e[0] != "result" else ("result", "...") for e in self.events][-6:]

    @property
    def messages(self) -> list[tuple]:
        """What the server sent (and the close frame), without the phone's own answers."""
        return [e for e in self.events if e[0] != "answer"]

    def kinds(self) -> list[str]:
        return [e[0] for e in self.messages]

    def max_outstanding(self) -> int:
        """The most commands the server had sent and the phone not yet answered."""
        outstanding = most = 0
        for e in self.events:
            outstanding += {"binary": 1, "answer": -1}.get(e[0], 0)
            most = max(most, outstanding)
        return most

    def server_close_frame(self) -> tuple | None:
        frames = [e for e in self.events if e[0] == "close_frame"]
        return frames[0][1:] if frames else None

    def assert_closed_by_server(self, code: int, reason: str | None) -> None:
        """The close text message is the last message, right before the close frame,
        and both carry the same code and reason (docs/websocket-api.md, closing)."""
        expected = {"close_code": code} if reason is None else {"close_code": code, "close_reason": reason}
        kinds = self.kinds()
        assert "close_frame" in kinds, self.outline()
        at = kinds.index("close_frame")
        messages = self.messages
        assert at >= 1 and messages[at - 1] == ("close_message", expected), self.outline()
        assert kinds.count("close_message") == 1
        assert messages[at][1:] == (code, reason)
        assert self.close == (code, reason)
        assert self.record.was_clean is True


class TracingProtocol(PhoneProtocol):
    """The virtual phone, tracing what it receives.  ``factory.hook(protocol, event)``
    runs after each message so a test can misbehave at a chosen moment; ``mute``
    stops the phone from answering the chip's responses."""

    mute = False

    def onOpen(self) -> None:
        if not self.factory.silent:
            super().onOpen()
            return
        # A phone that connects and never sends its StartMessage.
        send, self.sendMessage = self.sendMessage, lambda *args, **kwargs: None
        try:
            super().onOpen()
        finally:
            self.sendMessage = send

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        events = self.factory.trace.events
        if isBinary:
            events.append(("binary", len(payload)))
        else:
            try:
                msg = json.loads(payload.decode("utf-8"))
            except ValueError:
                msg = None
            if isinstance(msg, dict) and set(msg) == {"status"}:
                events.append(("status", msg["status"]))
            elif isinstance(msg, dict) and set(msg) == {"emrtd_passport"}:
                events.append(("result", msg["emrtd_passport"]))
            elif isinstance(msg, dict) and "close_code" in msg:
                events.append(("close_message", msg))
            else:
                events.append(("text", bytes(payload)))
        event = events[-1]
        super().onMessage(payload, isBinary)
        if self.factory.hook is not None:
            self.factory.hook(self, event)

    def _send_response(self, response: bytes) -> None:
        if not self.mute and self.state == PhoneProtocol.STATE_OPEN:
            self.factory.trace.events.append(("answer", len(response)))
            super()._send_response(response)

    def onCloseFrame(self, code: Any, reasonRaw: Any) -> Any:
        # Only the first close frame is the server's (a later one would be our echo).
        if not any(e[0] == "close_frame" for e in self.factory.trace.events):
            reason = reasonRaw.decode("utf-8") if reasonRaw else None
            self.factory.trace.events.append(("close_frame", code, reason))
        return super().onCloseFrame(code, reasonRaw)


class TracingFactory(PhoneFactory):
    protocol = TracingProtocol
    hook: Any = None
    silent = False


class CustomStart(PhoneOptions):
    """PhoneOptions whose StartMessage is edited by ``edit(dict) -> dict | bytes``."""

    def __init__(self, edit: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.edit = edit

    def start_message(self) -> Any:
        return self.edit(super().start_message())


def run_traced_phone(url: str, chip: Any, options: PhoneOptions, reactor: Any,
                     hook: Any = None, silent: bool = False) -> defer.Deferred:
    factory = TracingFactory(url, chip, options, reactor=reactor)
    factory.trace = Trace(options)
    factory.hook = hook
    factory.silent = silent
    reactor.connectTCP("127.0.0.1", int(url.split(":")[2].split("/")[0]), factory, timeout=10)

    def done(record: Any) -> Trace:
        factory.trace.record = record
        return factory.trace

    return factory.done.addCallback(done)


class TapChip:
    """A chip wrapper that keeps the raw commands and responses it relayed."""

    def __init__(self, chip: Any):
        self.chip = chip
        self.commands: list[bytes] = []
        self.responses: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.commands.append(bytes(apdu))
        response = self.chip.transmit(apdu)
        self.responses.append(bytes(response))
        return response


async def wait_until(reactor: Any, condition: Any, timeout: float = 10.0) -> None:
    """Polls ``condition()`` on the reactor (a loaded machine may need a while)."""
    deadline = reactor.seconds() + timeout
    while not condition():
        assert reactor.seconds() < deadline, "condition not met in time"
        await task.deferLater(reactor, 0.02, lambda: None)
