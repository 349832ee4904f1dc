"""The socket layer under the fetcher: resolve once, check the address, connect to that address.

Checking a hostname's addresses and then letting the HTTP library resolve it again leaves a
DNS-rebinding gap (the second answer can be 127.0.0.1). Here the httpcore network backend does
the resolving itself, asks `address_guard` about each address, and opens the socket to the very
address it checked; TLS SNI, certificate checks and the Host header still use the hostname,
because httpcore passes it to `start_tls` and the request separately.

Every socket operation is also bounded by the fetch's overall deadline (`deadline_scope`), so a
server that drips one byte per second — in the headers or the body — cannot outlive the total
timeout even though each read is quick.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

import httpcore

from ingest.fetch.address_guard import IPAddress, parse_ip, refusal_reason

Resolver = Callable[[str, int], list[str]]


class AddressRefused(Exception):
    """Every address the host resolved to is off limits."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        where = host if host == address else f"{host} resolves to {address}"
        super().__init__(f"{where}: {reason} address refused (set "
                         "NEWSWATCH_ALLOW_PRIVATE_NETWORKS=true to allow it, e.g. for a local "
                         "test feed)")


class NameNotResolved(Exception):
    pass


class Deadline:
    """A point in monotonic time a whole fetch must finish by; extendable for queueing time."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = clock() + seconds

    def extend(self, seconds: float) -> None:
        self._at += max(0.0, seconds)

    def remaining(self) -> float:
        return self._at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


_active_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "newswatch_fetch_deadline", default=None
)


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Bind `deadline` to every socket operation this thread performs inside the block."""
    token = _active_deadline.set(deadline)
    try:
        yield deadline
    finally:
        _active_deadline.reset(token)


def _bounded(timeout: float | None, expired_error: type[Exception]) -> float | None:
    deadline = _active_deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline.remaining()
    if remaining <= 0:
        raise expired_error(f"total timeout of {deadline.seconds:g} s exceeded")
    return remaining if timeout is None else min(timeout, remaining)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives, in its order of preference, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


class DeadlineStream(httpcore.NetworkStream):
    """A connected stream whose every read, write and TLS handshake respects the fetch deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(
        self,
        *,
        allow_private_networks: bool,
        allowed_endpoints: Iterable[tuple[str, int]] = (),
        resolver: Resolver = system_resolver,
        resolver_threads: int = 8,
    ) -> None:
        self.allow_private_networks = allow_private_networks
        self.allowed_endpoints: frozenset[tuple[IPAddress, int]] = frozenset(
            (parse_ip(ip), port) for ip, port in allowed_endpoints
        )
        self._resolver = resolver
        # getaddrinfo has no timeout of its own; a pool lets a lookup be abandoned at the deadline.
        self._lookups = ThreadPoolExecutor(resolver_threads, thread_name_prefix="newswatch-dns")
        self._sockets = httpcore.SyncBackend()

    def close(self) -> None:
        self._lookups.shutdown(wait=False, cancel_futures=True)

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        future = self._lookups.submit(self._resolver, host, port)
        try:
            addresses = future.result(timeout=timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise NameNotResolved(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise NameNotResolved(f"{host} resolves to no address")
        return addresses

    def refusal(self, address: str, port: int) -> str | None:
        """Why this endpoint may not be reached under the policy, or None."""
        if self.allow_private_networks:
            return None
        ip = parse_ip(address)
        if (ip, port) in self.allowed_endpoints:
            return None
        return refusal_reason(ip)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, _bounded(timeout, httpcore.ConnectTimeout))
        allowed: list[str] = []
        refused: list[tuple[str, str]] = []
        for address in addresses:
            reason = self.refusal(address, port)
            if reason is None:
                allowed.append(address)
            else:
                refused.append((address, reason))
        if not allowed:
            address, reason = refused[0]
            raise AddressRefused(host, address, reason)
        last_error: Exception | None = None
        for address in allowed:
            try:
                # An IP literal: httpcore's socket code does no lookup of its own.
                stream = self._sockets.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return DeadlineStream(stream)
        assert last_error is not None
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never reached by the fetcher")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
