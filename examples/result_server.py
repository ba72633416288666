#!/usr/bin/env python3
"""A small Result Server for DocVal: standard library only.

    python3 result_server.py --secrets-file secrets.txt [--listen 127.0.0.1:8000]
        [--path /docval] [--tolerance 300]
        [--tls-cert cert.pem --tls-key key.pem [--client-ca docval-client-ca.pem]]

It accepts DocVal's result POSTs and shows what a real one must do
(docs/result-server.md explains each step):

1. authenticate: ``DocVal-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each
   ``v1`` is HMAC-SHA256(secret, "<t>.<raw body>"); any secret of the file may match (the
   first line is the current one, more lines are accepted while rotating);
2. refuse stale or future timestamps (``--tolerance`` seconds), so a captured request
   cannot be replayed later;
3. de-duplicate by ``Idempotency-Key`` (the session id): DocVal retries a POST whose
   answer it did not get, so the same result can arrive more than once;
4. answer 2xx only once the result is safely handled: that answer is what lets DocVal
   send DONE to the phone.

It keeps the idempotency keys in memory only (a real server stores them with the result,
in one transaction) and prints one line per request with the session id and the
verdicts: never a name, a document number, an image or the body.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import ssl
import sys
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

# A result with all images and files_binary stays well below this.
MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_TOLERANCE = 300
# How long (seconds) and how many session ids are remembered for de-duplication.
SEEN_TTL = 24 * 3600
SEEN_MAX = 100_000

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SESSION_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_secrets(path: str | Path) -> list[bytes]:
    """One secret per line: the line's bytes without its line ending; blank lines are skipped."""
    secrets = []
    for line in Path(path).read_bytes().split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            secrets.append(line)
    if not secrets:
        raise ValueError(f"{path}: no secret in the file")
    return secrets


def parse_signature_header(value: str) -> tuple[int, list[str]]:
    """``t=<unix>,v1=<hex>[,v1=<hex>...]`` -> (t, [v1, ...]); unknown schemes are ignored."""
    timestamp = None
    signatures = []
    for item in value.split(","):
        name, sep, content = item.partition("=")
        if not sep:
            raise Rejected(401, "malformed DocVal-Signature")
        if name == "t":
            if timestamp is not None or not (content.isascii() and content.isdigit()) or len(content) > 12:
                raise Rejected(401, "malformed DocVal-Signature timestamp")
            timestamp = int(content)
        elif name == "v1":
            if not _HEX64.fullmatch(content):
                raise Rejected(401, "malformed DocVal-Signature v1")
            signatures.append(content)
    if timestamp is None or not signatures:
        raise Rejected(401, "DocVal-Signature needs t and v1")
    return timestamp, signatures


def verify_signature(header: str | None, body: bytes, secrets: list[bytes], now: float,
                     tolerance: float = DEFAULT_TOLERANCE) -> None:
    """Raises Rejected(401) unless one v1 is the HMAC of one secret over "<t>.<body>"."""
    if not header:
        raise Rejected(401, "no DocVal-Signature")
    timestamp, signatures = parse_signature_header(header)
    if abs(now - timestamp) > tolerance:
        raise Rejected(401, "DocVal-Signature timestamp outside the tolerance")
    signed = str(timestamp).encode("ascii") + b"." + body
    ok = False
    for secret in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
        for candidate in signatures:
            # Every comparison runs: the time taken does not tell which secret matched.
            ok |= hmac.compare_digest(expected, candidate)
    if not ok:
        raise Rejected(401, "DocVal-Signature does not match")


class SeenKeys:
    """Idempotency keys of results already handled (memory only, bounded, expiring)."""

    def __init__(self, ttl: float = SEEN_TTL, limit: int = SEEN_MAX):
        self._ttl, self._limit = ttl, limit
        self._done: OrderedDict[str, float] = OrderedDict()
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str, now: float) -> str:
        """"new" (caller must finish() or release()), "done" or "busy"."""
        with self._lock:
            while self._done and next(iter(self._done.values())) < now - self._ttl:
                self._done.popitem(last=False)
            if key in self._done:
                return "done"
            if key in self._busy:
                return "busy"
            self._busy.add(key)
            return "new"

    def finish(self, key: str, now: float) -> None:
        with self._lock:
            self._busy.discard(key)
            self._done[key] = now
            while len(self._done) > self._limit:
                self._done.popitem(last=False)

    def release(self, key: str) -> None:
        with self._lock:
            self._busy.discard(key)


def summary(session_id: str, body: dict[str, Any]) -> str:
    """The only thing printed per result: the session id and the verdicts."""
    passport = body["emrtd_passport"]
    return (f"result session={session_id} passive_authentication={passport.get('passive_authentication')} "
            f"chip_authentication={passport.get('chip_authentication_result')} "
            f"active_authentication={passport.get('active_authentication_result')} "
            f"errors={len(passport.get('errors') or [])}")


def print_summary(session_id: str, body: dict[str, Any]) -> None:
    print(summary(session_id, body), flush=True)


class ResultHandler(BaseHTTPRequestHandler):
    server: "ResultServer"
    server_version = "result-server"
    sys_version = ""
    timeout = 30   # a client that stops sending mid-request is dropped

    def do_POST(self) -> None:
        try:
            self._post()
        except Rejected as e:
            self._answer(e.status, {"error": e.reason})
            self.server.report(f"rejected {e.status}: {e.reason}")

    def _post(self) -> None:
        srv = self.server
        if self.path.split("?", 1)[0] != srv.path:
            raise Rejected(404, "unknown path")
        if self.headers.get_content_type() != "application/json":
            raise Rejected(415, "Content-Type must be application/json")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise Rejected(411, "Content-Length required")
        if int(length) > MAX_BODY_BYTES:
            raise Rejected(413, "body too large")
        body = self.rfile.read(int(length))
        # Authenticate the raw bytes before parsing or remembering anything.
        try:
            # Read per request: a secret added to the file for rotation counts at once.
            secrets = read_secrets(srv.secrets_file)
        except (OSError, ValueError):
            raise Rejected(500, "secrets file unreadable") from None
        verify_signature(self.headers.get("DocVal-Signature"), body, secrets, srv.clock(), srv.tolerance)
        key = self.headers.get("Idempotency-Key", "")
        if not _SESSION_ID.fullmatch(key):
            raise Rejected(400, "Idempotency-Key missing or malformed")
        try:
            result = json.loads(body)
        except ValueError:
            raise Rejected(400, "body is not JSON") from None
        if not isinstance(result, dict) or not isinstance(result.get("emrtd_passport"), dict) \
                or not isinstance(result.get("client_validation_id"), str):
            raise Rejected(400, "body lacks emrtd_passport or client_validation_id")
        if result.get("session_id", key) != key:
            raise Rejected(400, "session_id differs from Idempotency-Key")
        state = srv.seen.claim(key, srv.clock())
        if state == "done":
            # Already handled: answer success again, so DocVal stops retrying.
            self._answer(200, {"ok": True, "duplicate": True})
            srv.report(f"duplicate session={key}")
            return
        if state == "busy":
            # The first delivery is still being handled; 429 makes DocVal try again later.
            raise Rejected(429, "this session's result is being handled")
        try:
            srv.handle(key, result)
        except Exception as e:
            srv.seen.release(key)
            # 5xx: DocVal retries, and the retry is handled as new.
            raise Rejected(500, f"handler failed ({type(e).__name__})") from None
        srv.seen.finish(key, srv.clock())
        self._answer(200, {"ok": True})

    def do_GET(self) -> None:
        self._answer(405, {"error": "POST only"})

    def _answer(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The default line carries the peer address and request line; ours say enough.
        pass


class ResultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secrets_file: str | Path, *, path: str = "/docval",
                 tolerance: float = DEFAULT_TOLERANCE,
                 handle: Callable[[str, dict[str, Any]], None] = print_summary,
                 report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 clock: Callable[[], float] = time.time):
        read_secrets(secrets_file)   # fail at start-up, not on the first result
        super().__init__(address, ResultHandler)
        self.secrets_file = secrets_file
        self.path = path
        self.tolerance = tolerance
        self.handle = handle
        self.report = report
        self.clock = clock
        self.seen = SeenKeys()
        self.tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:
            # The handshake runs on the first read, in the request's own thread, so a
            # slow or broken client does not hold up the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # TLS handshake failures, resets: one line, no traceback.
        self.report(f"connection failed: {sys.exc_info()[0].__name__}")


def tls_context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        # Mutual TLS: only a client holding a certificate from this CA (DocVal) gets in.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A small DocVal Result Server (standard library only).")
    parser.add_argument("--secrets-file", required=True, help="one DocVal-Signature secret per line")
    parser.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT")
    parser.add_argument("--path", default="/docval", help="the URL path DocVal POSTs to")
    parser.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE,
                        help="seconds a signature timestamp may differ from this clock")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--client-ca", help="require client certificates issued by this CA (PEM)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    try:
        server = ResultServer((host.strip("[]") or "127.0.0.1", int(port)), args.secrets_file,
                              path=args.path, tolerance=args.tolerance)
    except (OSError, ValueError) as e:
        print(f"result_server: {e}", file=sys.stderr)
        return 1
    scheme = "http"
    if args.tls_cert:
        server.tls = tls_context(args.tls_cert, args.tls_key or args.tls_cert, args.client_ca)
        scheme = "https"
    bound_host, bound_port = server.server_address[:2]
    print(f"listening on {scheme}://{bound_host}:{bound_port}{args.path}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
