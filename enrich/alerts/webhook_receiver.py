"""A webhook receiver that checks newswatch's signature: for demos, tests and as a reference.

    python -m enrich.alerts.webhook_receiver --port 8765 --secret-env NEWSWATCH_WEBHOOK_SECRET

prints one line per delivery (`verified`/`BAD SIGNATURE`, rule, title). In tests it runs in a
thread, records what it received, and can answer with errors for a while (`fail_next`) to
play a receiver that is down and comes back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from enrich.alerts.signature import SIGNATURE_HEADER, verify_signature


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    verified: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str | None, *, host: str = "127.0.0.1", port: int = 0,
                 echo: bool = False) -> None:
        self.secret = secret
        self.received: list[Received] = []  # accepted (answered 200)
        self.refused = 0  # answered with an error by fail_next
        self._fail: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._handle(self.path, dict(self.headers.items()), body)
                if echo and status in (200, 401):  # accepted, or recorded as badly signed
                    receiver._print(receiver.received[-1])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` (the receiver is "down")."""
        with self._lock:
            self._fail.extend([status] * count)

    def recover(self) -> None:
        """Stop failing: the receiver is back."""
        with self._lock:
            self._fail.clear()

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            if self._fail:
                self.refused += 1
                return self._fail.pop(0)
            lowered = {k.lower(): v for k, v in headers.items()}
            verified = self.secret is not None and verify_signature(
                body, lowered.get(SIGNATURE_HEADER.lower()), self.secret
            )
            self.received.append(Received(path, lowered, body, verified))
            return 200 if verified or self.secret is None else 401

    @staticmethod
    def _print(item: Received) -> None:
        body = item.json
        state = "verified" if item.verified else "BAD SIGNATURE"
        print(f"{state}: {body.get('event')} rule={body.get('rule')} "
              f"title={body.get('title') or body.get('count')!r} url={body.get('url')}",
              flush=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret-env", default="NEWSWATCH_WEBHOOK_SECRET")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"{args.secret_env} is not set", file=sys.stderr)
        return 2
    receiver = WebhookReceiver(secret, port=args.port, echo=True).start()
    print(f"listening on {receiver.url()}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
