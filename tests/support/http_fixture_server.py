"""A local HTTP server for feeds and pages in tests: real sockets, responses set per path."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.threaded_http import ServedHTTP


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # For behaviour a fixed response cannot express (drips, endless bodies, conditional GET).
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


# An article page trafilatura extracts in full (a few hundred characters of prose).
ARTICLE_PAGE = ("<html><body><article><p>" + "A paragraph of article text. " * 20
                + "</p></article></body></html>")


def delayed(body: bytes, delay_s: float, content_type: str = "application/rss+xml") -> Route:
    """A response that starts only after `delay_s`: a slow server, seen from the client."""
    def handler(request: BaseHTTPRequestHandler) -> None:
        time.sleep(delay_s)
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    return Route(handler=handler)


class FixtureServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without it every response stalls ~40 ms on delayed ACKs (22 vs 1,300 req/s).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.handler is not None:
                    route.handler(self)
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

        self._served = ServedHTTP(Handler)  # backlog 128: many pollers connect at once
        self.port = self._served.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
            status: int = 200, headers: dict[str, str] | None = None) -> str:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(raw, status, {"Content-Type": content_type, **(headers or {})})
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def start(self) -> FixtureServer:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()
