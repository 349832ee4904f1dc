"""The WebSub callback's HTTP side: `/websub/<feed>/<token>` on its own port.

GET is the hub verifying intent or reporting a denial (§5.2, §5.3); POST is content
distribution (§7). What to answer is decided by a `CallbackHandler`
(`ingest.websub.websub_service`);
this module only speaks HTTP, and bounds what a stranger can make it hold: a body must declare
its length (411 otherwise, no chunked bodies), a length above the limit is refused with 413
before a byte of it is read, reads time out, and the path must have the callback's shape.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "/websub/"
_READ_TIMEOUT_S = 15.0


class CallbackHandler(Protocol):
    def verify(self, feed: str, token: str, params: dict[str, str]) -> tuple[int, bytes]: ...

    def deliver(self, feed: str, token: str, headers: dict[str, str], body: bytes) -> int: ...

    def refuse(self, reason: str) -> None: ...


def callback_path(feed: str, token: str) -> str:
    return f"{CALLBACK_PREFIX}{quote(feed, safe='')}/{token}"


def parse_callback_path(path: str) -> tuple[str, str] | None:
    """(feed, token) from a callback path, or None when it is not one."""
    route = urlsplit(path).path
    if not route.startswith(CALLBACK_PREFIX):
        return None
    parts = route[len(CALLBACK_PREFIX):].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return unquote(parts[0]), parts[1]


class CallbackServer:
    def __init__(self, handler: CallbackHandler, *, bind: str, port: int,
                 max_body_bytes: int) -> None:
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = _READ_TIMEOUT_S  # per socket read: a drip cannot hold a thread for ever
            disable_nagle_algorithm = True
            server_version = "newswatch-websub"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _reply(self, status: int, body: bytes = b"", *, close: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                where = parse_callback_path(self.path)
                if where is None:
                    self._reply(404)
                    return
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                params = {key: values[-1] for key, values in query.items()}
                status, body = outer.handler.verify(where[0], where[1], params)
                self._reply(status, body)

            def do_POST(self) -> None:
                where = parse_callback_path(self.path)
                length_text = self.headers.get("Content-Length")
                if self.headers.get("Transfer-Encoding") or length_text is None:
                    outer.handler.refuse("no_length")
                    self._reply(411, b"Content-Length required", close=True)
                    return
                try:
                    length = int(length_text)
                except ValueError:
                    length = -1
                if length < 0:
                    outer.handler.refuse("bad_request")
                    self._reply(400, b"bad Content-Length", close=True)
                    return
                if length > outer.max_body_bytes:
                    outer.handler.refuse("too_large")
                    log.warning("WebSub delivery refused: body too large",
                                extra={"path": self.path, "bytes": length,
                                       "limit": outer.max_body_bytes})
                    self._reply(413, b"body too large", close=True)  # unread: never kept
                    return
                try:
                    body = self.rfile.read(length)
                except TimeoutError:
                    outer.handler.refuse("timeout")
                    self.close_connection = True
                    return
                if len(body) < length:  # the client went away mid-body
                    outer.handler.refuse("truncated")
                    self.close_connection = True
                    return
                if where is None:
                    outer.handler.refuse("unknown_subscription")
                    self._reply(404)
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._reply(outer.handler.deliver(where[0], where[1], headers, body))

        self._httpd = ThreadingHTTPServer((bind, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="websub-callback", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> CallbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
