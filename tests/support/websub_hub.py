"""A small WebSub hub in the test process, over real sockets: takes subscription requests
(form POST), verifies intent at the subscriber's callback (GET with a random challenge, in a
thread, as a real hub does after answering 202), remembers each verified subscription with its
secret, and publishes bodies to subscribers signed, badly signed, or unsigned.

`behaviour` picks what it does with a request: "accept" (202, then verify), "deny" (202, then
a hub.mode=denied GET), "refuse" (400 with an explanation), "silent" (202, never verifies),
"redirect" (307 to `redirect_to`, another hub, §5.1.2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode

import httpx

from tests.support.threaded_http import ServedHTTP


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str | None
    lease_s: int


@dataclass
class Verification:
    mode: str
    topic: str
    status: int
    confirmed: bool  # 2xx with the challenge echoed


@dataclass
class WebSubHub:
    behaviour: str = "accept"
    lease_s: int = 3600  # granted, whatever was asked
    redirect_to: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hub = self
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with hub._lock:
                    hub.requests.append(form)
                status, text = 202, b""
                if hub.behaviour == "refuse":
                    status, text = 400, b"topic not allowed on this hub"
                if hub.behaviour == "redirect":
                    status = 307
                self.send_response(status)
                if status == 307:
                    self.send_header("Location", hub.redirect_to or "/")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                if hub.behaviour in ("accept", "deny"):
                    threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

        self._served = ServedHTTP(Handler).start()

    @property
    def url(self) -> str:
        return f"{self._served.base_url}/"

    def stop(self) -> None:
        self._served.stop()

    def _verify(self, form: dict[str, str]) -> None:
        callback, topic, mode = form["hub.callback"], form["hub.topic"], form["hub.mode"]
        joiner = "&" if "?" in callback else "?"
        if self.behaviour == "deny":
            query = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": "not on my watch"}
            response = httpx.get(callback + joiner + urlencode(query), timeout=10)
            with self._done:
                self.verifications.append(Verification("denied", topic, response.status_code,
                                                       False))
                self._done.notify_all()
            return
        challenge = secrets.token_hex(8)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = str(self.lease_s)
        response = httpx.get(callback + joiner + urlencode(query), timeout=10)
        confirmed = 200 <= response.status_code < 300 and response.text == challenge
        with self._done:
            self.verifications.append(Verification(mode, topic, response.status_code, confirmed))
            if confirmed and mode == "subscribe":
                self.subscriptions[(topic, callback)] = HubSubscription(
                    callback, topic, form.get("hub.secret"), self.lease_s)
            elif confirmed:
                self.subscriptions.pop((topic, callback), None)
            self._done.notify_all()

    def verify_by_hand(self, callback: str, *, mode: str, topic: str) -> httpx.Response:
        """A verification nobody asked for (an attacker's, or a confused hub's)."""
        joiner = "&" if "?" in callback else "?"
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "c" * 16,
                 "hub.lease_seconds": "3600"}
        return httpx.get(callback + joiner + urlencode(query), timeout=10)

    def wait_verifications(self, count: int, timeout_s: float = 15) -> list[Verification]:
        with self._done:
            self._done.wait_for(lambda: len(self.verifications) >= count, timeout_s)
            return list(self.verifications)

    def subscriber(self, topic: str) -> HubSubscription:
        """The topic's most recently verified subscription."""
        with self._lock:
            return [s for s in self.subscriptions.values() if s.topic == topic][-1]

    def publish(self, topic: str, body: bytes, *, signature: str = "good",
                method: str = "sha256", content_type: str = "application/rss+xml",
                callback: str | None = None) -> httpx.Response:
        """POST `body` to the topic's subscriber: signature "good" (with its secret), "bad"
        (another secret), "none" (no header)."""
        sub = self.subscriber(topic)
        headers = {"Content-Type": content_type,
                   "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
        if signature != "none":
            key = (sub.secret or "") if signature == "good" else "not-the-secret"
            digest = hmac.new(key.encode(), body, getattr(hashlib, method)).hexdigest()
            headers["X-Hub-Signature"] = f"{method}={digest}"
        return httpx.post(callback or sub.callback, content=body, headers=headers, timeout=30)
