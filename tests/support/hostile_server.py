"""A local HTTP server that misbehaves on purpose, over real sockets.

Each route reproduces something feeds and pages really do to crawlers: drip bytes forever, never
end the body, inflate into gigabytes, loop redirects, bounce to loopback or the cloud metadata
address, throttle, lie about their charset or content type. Handlers watch a stop event and the
client's disconnect, so `stop()` returns promptly and no test can hang on the server side.

A `canary` listener on a second port counts TCP connections: a redirect to it that must be
refused by the address guard proves the refusal happened before any socket was opened.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

from tests.support.threaded_http import ServedHTTP

Handler = Callable[[BaseHTTPRequestHandler], None]

RUSSIAN_TITLE = "Новости Оренбурга"
RUSSIAN_ITEM = "В области открылась новая школа"
CP1251_FEED = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<rss version="2.0"><channel>'
    f"<title>{RUSSIAN_TITLE}</title><link>http://example.org/</link>"
    "<description>Губернатор посетил торжественное открытие учебного заведения.</description>"
    f"<item><title>{RUSSIAN_ITEM}</title><link>http://example.org/1</link>"
    "<description>Дети пришли на первый урок в новое здание с бассейном и библиотекой."
    "</description></item>"
    "</channel></rss>"
).encode("cp1251")
RSS_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Plain</title>'
    b"<link>http://example.org/</link><item><title>One</title><link>http://example.org/1</link>"
    b"</item></channel></rss>"
)
HTML_PAGE = (
    b"<!-- served by a CMS -->\n<!DOCTYPE html>\n<html><head><title>Home</title>"
    b'<link rel="alternate" type="application/rss+xml" href="/feed"></head>'
    b"<body><p>Welcome to our site.</p></body></html>"
)
PDF_BODY = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + b"0" * 8000
ETAG = '"v1"'

_bomb_cache: dict[int, bytes] = {}


def gzip_bomb(decoded_size: int) -> bytes:
    """`decoded_size` zero bytes, gzipped (about 1000:1)."""
    if decoded_size not in _bomb_cache:
        _bomb_cache[decoded_size] = gzip.compress(b"\0" * decoded_size, compresslevel=9)
    return _bomb_cache[decoded_size]


class Canary:
    """A listening socket that only counts the connections it receives."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class HostileServer:
    def __init__(
        self, *, bomb_decoded_size: int = 50 * 1024 * 1024, tls: ssl.SSLContext | None = None
    ) -> None:
        self.stopping = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Per path, so a slow drip left over from another test does not count against this one.
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self.canary = Canary()
        self.bomb = gzip_bomb(bomb_decoded_size)
        self.routes: dict[str, Handler] = {}
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle plus delayed ACK
            # stall every response by ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with server._lock:
                    server.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                    now = server.in_flight[path] = server.in_flight.get(path, 0) + 1
                    server.max_in_flight[path] = max(server.max_in_flight.get(path, 0), now)
                try:
                    route = server.routes.get(path)
                    if route is None:
                        server.send(self, 404, b"not here", "text/plain")
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    self.close_connection = True
                finally:
                    with server._lock:
                        server.in_flight[path] -= 1

        self._served = ServedHTTP(RequestHandler)
        self.scheme = "http"
        if tls is not None:
            httpd = self._served.httpd
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
            self.scheme = "https"
        self.port: int = self._served.port
        self._install_routes()

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?")[0] == path)

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p.split("?")[0] == path]

    def start(self) -> HostileServer:
        self._served.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._served.stop()
        self.canary.stop()

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _redirect(self, location: str | Callable[[], str], status: int = 302) -> Handler:
        def handle(h: BaseHTTPRequestHandler) -> None:
            target = location() if callable(location) else location
            self.send(h, status, b"", None, {"Location": target})

        return handle

    def _static(
        self, body: bytes, content_type: str | None, status: int = 200, **headers: str
    ) -> Handler:
        def handle(h: BaseHTTPRequestHandler) -> None:
            self.send(
                h, status, body, content_type, {k.replace("_", "-"): v for k, v in headers.items()}
            )

        return handle

    # --- misbehaviour -----------------------------------------------------------------------

    def _drip_body(self, h: BaseHTTPRequestHandler) -> None:
        """Headers at once, then one byte every 50 ms of a 200-byte body: 10 s for a tiny feed."""
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "200")
        h.end_headers()
        while not self.stopping.is_set():
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)

    def _drip_headers(self, h: BaseHTTPRequestHandler) -> None:
        """The status line, then header bytes one at a time, never finishing the headers."""
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        h.wfile.flush()
        while not self.stopping.is_set():
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(0.05)

    def _endless(self, h: BaseHTTPRequestHandler) -> None:
        """A chunked body of a feed that never ends."""
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"%x\r\n%s\r\n" % (len(RSS_FEED[:60]), RSS_FEED[:60]))
        chunk = b"<item><title>more</title></item>" * 512
        while not self.stopping.is_set():
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def _silent(self, h: BaseHTTPRequestHandler) -> None:
        """Reads the request, never answers."""
        self.stopping.wait(30)

    def _conditional(self, h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == ETAG:
            h.send_response(304)
            h.send_header("ETag", ETAG)
            h.end_headers()
            return
        self.send(h, 200, RSS_FEED, "application/rss+xml", {"ETag": ETAG})

    def _hang_up(self, h: BaseHTTPRequestHandler) -> None:
        """Closes the connection without a response."""
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    def _short_body(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(RSS_FEED[:50])
        h.close_connection = True

    def _huge_length(self, h: BaseHTTPRequestHandler) -> None:
        """Announces a terabyte, sends a little, and waits: the client must not start reading."""
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(10**12))
        h.end_headers()
        h.wfile.write(RSS_FEED)
        h.close_connection = True

    def _consent(self, h: BaseHTTPRequestHandler) -> None:
        """Sets a cookie and sends the client back to the same URL; answers once it has it."""
        if "consent=yes" in (h.headers.get("Cookie") or ""):
            self.send(h, 200, RSS_FEED, "application/rss+xml")
        else:
            self.send(
                h, 302, b"", None, {"Location": "/consent", "Set-Cookie": "consent=yes; Path=/"}
            )

    def _slow_ok(self, h: BaseHTTPRequestHandler) -> None:
        """A normal feed that takes a little while, for concurrency accounting."""
        time.sleep(0.05)
        self.send(h, 200, RSS_FEED, "application/rss+xml")

    def _install_routes(self) -> None:
        r = self.routes
        r["/feed"] = self._static(RSS_FEED, "application/rss+xml")
        r["/slow-ok"] = self._slow_ok
        r["/drip-body"] = self._drip_body
        r["/drip-headers"] = self._drip_headers
        r["/endless"] = self._endless
        r["/silent"] = self._silent
        r["/gzip-bomb"] = self._static(self.bomb, "application/rss+xml", Content_Encoding="gzip")
        r["/gzip-feed"] = self._static(
            gzip.compress(RSS_FEED), "application/rss+xml", Content_Encoding="gzip"
        )
        r["/bad-gzip"] = self._static(
            b"\x1f\x8b" + b"garbage" * 20, "text/xml", Content_Encoding="gzip"
        )
        r["/brotli"] = self._static(b"\x0b\x02\x80hello\x03", "text/xml", Content_Encoding="br")
        r["/huge-length"] = self._huge_length
        r["/loop-a"] = self._redirect("/loop-b")
        r["/loop-b"] = self._redirect("/loop-a")
        for n in range(20):
            r[f"/chain-{n}"] = self._redirect(f"/chain-{n + 1}")
        r["/to-loopback"] = self._redirect(lambda: f"http://127.0.0.1:{self.canary.port}/feed")
        r["/to-localhost"] = self._redirect(lambda: f"http://localhost:{self.canary.port}/feed")
        r["/to-mapped"] = self._redirect(lambda: f"http://[::ffff:127.0.0.1]:{self.canary.port}/")
        r["/to-metadata"] = self._redirect("http://169.254.169.254/latest/meta-data/")
        r["/to-decimal-ip"] = self._redirect(lambda: f"http://2130706433:{self.canary.port}/feed")
        r["/to-file"] = self._redirect("file:///etc/passwd")
        r["/no-location"] = self._static(b"", None, 302)
        r["/moved"] = self._redirect("/moved-again", 301)
        r["/moved-again"] = self._redirect("/feed", 308)
        r["/temporary-then-moved"] = self._redirect("/moved", 302)
        r["/error-500"] = self._static(b"<h1>Internal Server Error</h1>", "text/html", 500)
        r["/gone"] = self._static(b"gone", "text/plain", 410)
        r["/throttled"] = self._static(b"slow down", "text/plain", 429, Retry_After="120")
        r["/unavailable"] = self._static(
            b"maintenance",
            "text/plain",
            503,
            Retry_After=formatdate(time.time() + 3600, usegmt=True),
        )
        r["/conditional"] = self._conditional
        r["/cp1251-feed"] = self._static(CP1251_FEED, "application/rss+xml; charset=utf-8")
        r["/cp1251-as-latin1"] = self._static(CP1251_FEED, "text/xml; charset=ISO-8859-1")
        r["/report.pdf"] = self._static(PDF_BODY, "application/pdf")
        r["/pdf-as-html"] = self._static(PDF_BODY, "text/html; charset=utf-8")
        r["/page"] = self._static(HTML_PAGE, "text/html; charset=utf-8")
        r["/hang-up"] = self._hang_up
        r["/short-body"] = self._short_body
        r["/consent"] = self._consent
