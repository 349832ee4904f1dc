"""The one way tests serve HTTP: a `ThreadingHTTPServer` on a free loopback port, serving from
a daemon thread, stopped cleanly. The fixture site, the hostile server, the WebSub hub and the
fake Kibanas all start here, so a fix (backlog, quiet hang-ups) reaches every one of them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops SYNs when many fetch threads connect at once,
    # which shows up as 1 s connect stalls (SYN retransmit) rather than anything we test.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (on a slow or misbehaving route) are not errors worth printing."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class ServedHTTP:
    """`handler` served on 127.0.0.1 at a free port from `start()` until `stop()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *,
                 poll_interval: float = 0.5) -> None:
        self.httpd = LocalHTTPServer(("127.0.0.1", 0), handler)
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(poll_interval,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedHTTP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], *,
          poll_interval: float = 0.5) -> Iterator[ServedHTTP]:
    """`with serve(Handler) as server:` … `server.port`; stopped on the way out."""
    served = ServedHTTP(handler, poll_interval=poll_interval).start()
    try:
        yield served
    finally:
        served.stop()
