"""Serves the demo site (flows/demo_site/) on loopback: used by `make demo` and the tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

ROUTES = {
    "/feed.xml": ("feed.xml", "application/rss+xml; charset=utf-8"),
    "/world/syria-mediation.html": ("seed-syria-mediation.html", "text/html; charset=utf-8"),
    "/ar/idlib-shelling.html": ("idlib-shelling-ar.html", "text/html; charset=utf-8"),
    "/culture/assyrian-reliefs.html": ("assyrian-reliefs.html", "text/html; charset=utf-8"),
    "/local/harbour-festival.html": ("harbour-festival.html", "text/html; charset=utf-8"),
}


class DemoSite:
    """Serves flows/demo_site/ on a loopback port; `{base}` in the feed becomes the site URL."""

    def __init__(self, port: int = 0) -> None:
        files = resources.files("flows").joinpath("demo_site")
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                route = ROUTES.get(urlsplit(self.path).path)
                if route is None:
                    self.send_error(404)
                    return
                name, content_type = route
                body = files.joinpath(name).read_text("utf-8").replace("{base}", site.base_url)
                raw = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
