"""Subscription requests to WebSub hubs (W3C WebSub §5.1), over the same guarded sockets as
every fetch.

A hub URL comes from a feed, so from a stranger: it is reached only through
`ingest.fetch.guarded_network` (resolved once, the address checked against
`ingest.fetch.address_guard`,
the socket opened to that very address), only over http(s), within the fetch policy's
deadlines, without environment proxies. A hub may redirect the request to another hub with
307/308 (§5.1.2): each hop is a fresh guarded request, a few hops at most. Any 2xx means the
hub will verify intent (§5.1.2 says 202); anything else is a refusal, reported with the
status and the start of the hub's plain-text explanation.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlencode

import certifi
import httpcore
import httpx

from ingest.fetch.guarded_network import (
    AddressRefused,
    Deadline,
    GuardedBackend,
    NameNotResolved,
    deadline_scope,
)
from ingest.fetch.http_fetch import FetchPolicy

log = logging.getLogger(__name__)

MAX_HUB_REDIRECTS = 3
_MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class HubAnswer:
    accepted: bool
    status: int | None  # None: no HTTP answer at all
    reason: str  # what went wrong, or "HTTP 202"
    hub: str  # the hub that answered last (after 307/308)


class HubClient:
    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._backend = GuardedBackend(
            allow_private_networks=policy.allow_private_networks,
            allowed_endpoints=policy.allowed_private_endpoints,
        )
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=policy.ca_bundle or certifi.where()),
            max_connections=16, retries=0, network_backend=self._backend,
        )

    def close(self) -> None:
        self._pool.close()
        self._backend.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, hub: str, *, mode: str, topic: str, callback: str,
                lease_s: int | None = None, secret: str | None = None) -> HubAnswer:
        """POST a subscribe/unsubscribe request (form-encoded UTF-8, §5.1)."""
        fields = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
        if mode == "subscribe" and lease_s is not None:
            fields["hub.lease_seconds"] = str(lease_s)
        if mode == "subscribe" and secret is not None:
            fields["hub.secret"] = secret
        body = urlencode(fields).encode("utf-8")
        current = hub
        with deadline_scope(Deadline(self.policy.total_timeout_s)) as deadline:
            for _ in range(MAX_HUB_REDIRECTS + 1):
                answer = self._post(current, body, deadline)
                if isinstance(answer, HubAnswer):
                    return answer
                current = answer  # a 307/308 to another hub
        return HubAnswer(False, None, f"more than {MAX_HUB_REDIRECTS} redirects", current)

    def _post(self, hub: str, body: bytes, deadline: Deadline) -> HubAnswer | str:
        try:
            url = httpx.URL(hub)
        except (httpx.InvalidURL, ValueError) as exc:
            return HubAnswer(False, None, f"invalid hub URL: {exc}", hub)
        if url.scheme not in ("http", "https") or not url.host:
            return HubAnswer(False, None, f"unsupported hub URL {hub!r}", hub)
        timeouts = {"connect": min(self.policy.connect_timeout_s, deadline.remaining()),
                    "read": self.policy.read_timeout_s, "write": self.policy.read_timeout_s,
                    "pool": max(0.001, deadline.remaining())}
        headers = [(b"User-Agent", self.policy.user_agent.encode("latin-1")),
                   (b"Content-Type", b"application/x-www-form-urlencoded; charset=utf-8"),
                   (b"Accept", b"text/plain, */*;q=0.5")]
        target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                              target=url.raw_path)
        try:
            with self._pool.stream("POST", target, headers=headers, content=body,
                                   extensions={"timeout": timeouts}) as response:
                status = response.status
                answer = _bounded_text(response)
                location = next((v.decode("latin-1") for k, v in response.headers
                                 if k.lower() == b"location"), None)
        except AddressRefused as exc:
            return HubAnswer(False, None, f"refused_private: {exc}", hub)
        except NameNotResolved as exc:
            return HubAnswer(False, None, f"dns: {exc}", hub)
        except httpcore.TimeoutException as exc:
            return HubAnswer(False, None, f"timeout: {exc or 'no answer in time'}", hub)
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            return HubAnswer(False, None, f"network: {exc!r}", hub)
        if status in (307, 308) and location:
            return str(url.join(location))
        if 200 <= status < 300:
            return HubAnswer(True, status, f"HTTP {status}", hub)
        text = " ".join(answer.split())[:200]
        return HubAnswer(False, status, f"HTTP {status}" + (f": {text}" if text else ""), hub)


def _bounded_text(response: httpcore.Response) -> str:
    """The start of the hub's answer (its error description), never all of a huge body."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        parts.append(chunk)
        size += len(chunk)
        if size >= _MAX_ANSWER_BYTES:
            break
    return b"".join(parts)[:_MAX_ANSWER_BYTES].decode("utf-8", "replace")
