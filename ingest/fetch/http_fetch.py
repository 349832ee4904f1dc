"""HTTP GET for feeds and pages that strangers control: safe, bounded, polite, and honest about
why a fetch produced nothing.

Every hop of a redirect chain is a fresh request through the guarded socket layer
(`ingest.fetch.guarded_network`): only http/https, the host resolved once and its address checked
against `ingest.fetch.address_guard` before the socket opens, so neither a redirect to
169.254.169.254
nor a DNS answer that changes between check and connect reaches the internal network. A fetch is
bounded in time (connect, per-read and total deadlines, the total also cutting slow drips in
headers or body), in hops (`too_many_redirects`, `redirect_loop`) and in size (the decoded body
is capped while it streams, so a gzip bomb stops at the limit, not at the memory limit). Requests
to one host share per-host politeness limits. Failures raise `FetchError` with a stable `kind`
from `ERROR_KINDS`, which metrics and feed health group by.

Thread-safe: one `Fetcher` serves all poll threads; per-fetch state lives on the caller's stack
and the connection pool is httpcore's thread-safe pool. Environment proxies are deliberately
not used: through a proxy the address check would see the proxy, not the target.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import certifi
import httpcore
import httpx

from ingest.fetch.body_decoding import DecodedBody, decode_body
from ingest.fetch.bounded_decompress import (
    SUPPORTED_CODINGS,
    BadContentEncoding,
    BodyTooLarge,
    BoundedDecoder,
    UnsupportedContentEncoding,
)
from ingest.fetch.content_type_gate import Expect, Refusal, refuse_body, refuse_declared
from ingest.fetch.guarded_network import (
    AddressRefused,
    Deadline,
    GuardedBackend,
    NameNotResolved,
    Resolver,
    deadline_scope,
    system_resolver,
)
from ingest.fetch.host_politeness import HostPoliteness
from ingest.fetch.retry_after import parse_retry_after

if TYPE_CHECKING:
    from ingest.common.settings import Settings

# Stable labels of FetchError.kind, for metrics, logs and feed health.
ERROR_KINDS: dict[str, str] = {
    "invalid_url": "the URL (or a redirect's Location) cannot be parsed or has no host",
    "unsupported_scheme": "not http or https (file:, ftp:, gopher: ...)",
    "refused_private": "the host is, or resolves only to, loopback/private/link-local/... space",
    "dns": "the host name does not resolve",
    "connect": "no TCP connection (refused, unreachable)",
    "tls": "TLS handshake or certificate verification failed",
    "timeout": "connect, read or total deadline passed (slow drips included)",
    "network": "the connection broke while sending or receiving",
    "protocol": "the server spoke malformed HTTP or closed mid-response",
    "too_many_redirects": "more redirects than the policy allows",
    "redirect_loop": "a redirect led back to a URL already requested in this chain",
    "bad_redirect": "a redirect status without a usable Location",
    "http_status": "the server answered >= 400 (or a 3xx that cannot be followed); see .status",
    "too_large": "the body is larger than max_body_bytes",
    "decompression_bomb": "the compressed body inflates past max_body_bytes",
    "unsupported_content_encoding": "a Content-Encoding that was not asked for (br, zstd, stacked)",
    "bad_content_encoding": "the body does not decode with its declared Content-Encoding",
    "unsupported_content_type": "the content type (declared or sniffed) is not what was expected",
    "not_a_feed": "a feed was expected and the body is an HTML page",
}

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
_SNIFF_BYTES = 4096

_DEFAULT_ACCEPT: dict[str, str] = {
    "feed": (
        "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
        "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
    ),
    "html": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
    "any": "*/*",
}


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str
    allow_private_networks: bool = False
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024
    # Exact (ip, port) endpoints reachable even when private networks are refused: lets tests
    # (and a sidecar on a known port) through without opening every private address.
    allowed_private_endpoints: frozenset[tuple[str, int]] = frozenset()
    # Per-host politeness: None = no concurrency cap; 0 = no spacing between request starts.
    per_host_concurrency: int | None = None
    per_host_delay_s: float = 0.0
    max_connections: int = 100
    # PEM bundle of trusted CAs; None = certifi's.
    ca_bundle: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        user_agent = settings.user_agent
        if settings.contact_url and settings.contact_url not in user_agent:
            user_agent = f"{user_agent} (+{settings.contact_url})"
        return cls(
            user_agent=user_agent,
            allow_private_networks=settings.allow_private_networks,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            total_timeout_s=settings.total_timeout_s,
            max_redirects=settings.max_redirects,
            max_body_bytes=settings.max_body_bytes,
            per_host_concurrency=settings.per_host_concurrency,
            per_host_delay_s=settings.per_host_delay_s,
        )


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes  # Content-Encoding already undone
    not_modified: bool = False
    # Set when the chain began with a 301/308: where the resource now permanently lives.
    permanent_redirect: str | None = None
    elapsed_s: float = 0.0
    # URLs that answered with a redirect, in order (the final URL is not among them).
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def decoded(self) -> DecodedBody:
        """The body as text, its charset found from headers, BOM, declarations or detection."""
        return decode_body(self.body, self.headers.get("content-type"))


class FetchError(Exception):
    """A fetch that produced no usable body. `kind` is a stable label for metrics and health."""

    def __init__(
        self,
        kind: str,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.url = url
        self.status = status
        self.retry_after_s = retry_after_s
        self.message = message
        super().__init__(f"{kind}: {message} ({url})")


@dataclass(frozen=True)
class _Redirect:
    status: int
    location: str
    raw_headers: list[tuple[bytes, bytes]]


def _lowered_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _ssl_error_in(exc: Exception) -> ssl.SSLError | None:
    """httpcore wraps socket errors as ConnectError(original); its pool drops `__cause__`."""
    for candidate in (*exc.args, exc.__cause__, exc.__context__):
        if isinstance(candidate, ssl.SSLError):
            return candidate
    return None


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle or certifi.where())


class Fetcher:
    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver = system_resolver,
        politeness: HostPoliteness | None = None,
    ) -> None:
        """`resolver` maps (host, port) to IP strings (tests point names at the fixture server);
        `politeness` may be shared with other fetchers, else one is built from the policy."""
        self.policy = policy
        self.politeness = politeness or HostPoliteness(
            policy.per_host_concurrency, policy.per_host_delay_s
        )
        self._backend = GuardedBackend(
            allow_private_networks=policy.allow_private_networks,
            allowed_endpoints=policy.allowed_private_endpoints,
            resolver=resolver,
        )
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(policy.ca_bundle),
            max_connections=policy.max_connections,
            max_keepalive_connections=min(20, policy.max_connections),
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=self._backend,
        )

    # --- public ---------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        expect: Expect = "any",
    ) -> FetchResult:
        """GET `url`, following redirects hop by hop. `expect` ("feed", "html", "any") refuses
        bodies of the wrong kind; `accept` defaults to an Accept header that suits `expect`.
        A 304 returns `not_modified=True`; every other failure raises FetchError."""
        started = time.monotonic()
        headers = {
            "User-Agent": self.policy.user_agent,
            "Accept": accept or _DEFAULT_ACCEPT[expect],
            "Accept-Encoding": ", ".join(SUPPORTED_CODINGS),
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        with deadline_scope(Deadline(self.policy.total_timeout_s)) as deadline:
            result = self._follow(url, headers, expect, deadline)
        result.elapsed_s = time.monotonic() - started
        return result

    def close(self) -> None:
        self._pool.close()
        self._backend.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the redirect chain ---------------------------------------------------------------

    def _checked_url(self, text: str, origin: str, *, base: httpx.URL | None = None) -> httpx.URL:
        kind = "invalid_url" if base is None else "bad_redirect"
        try:
            target = base.join(text) if base is not None else httpx.URL(text)
        except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
            raise FetchError(kind, origin, f"cannot parse {text!r}: {exc}") from exc
        if target.scheme not in ("http", "https"):
            raise FetchError(
                "unsupported_scheme", origin, f"{target.scheme or 'no'} scheme: {text}"
            )
        if not target.host:
            raise FetchError(kind, origin, f"no host in {text!r}")
        return target.copy_with(fragment=None)

    def _follow(
        self, url: str, headers: dict[str, str], expect: Expect, deadline: Deadline
    ) -> FetchResult:
        current = self._checked_url(url, url)
        cookies = httpx.Cookies()  # within this chain only: consent pages set one and redirect
        requested: set[tuple[str, str]] = set()
        redirects: list[str] = []
        permanent: str | None = None
        leading_permanent = True
        while True:
            cookie_request = httpx.Request("GET", current)
            cookies.set_cookie_header(cookie_request)
            cookie = cookie_request.headers.get("cookie", "")
            if (str(current), cookie) in requested:
                chain = " -> ".join([*redirects, str(current)])
                raise FetchError("redirect_loop", url, f"back to {current}: {chain}")
            requested.add((str(current), cookie))
            hop_headers = {**headers, "Cookie": cookie} if cookie else headers
            outcome = self._hop(current, hop_headers, expect, deadline, url)
            if isinstance(outcome, FetchResult):
                outcome.permanent_redirect = permanent
                outcome.redirects = redirects
                return outcome
            cookies.extract_cookies(
                httpx.Response(outcome.status, headers=outcome.raw_headers, request=cookie_request)
            )
            redirects.append(str(current))
            if len(redirects) > self.policy.max_redirects:
                raise FetchError(
                    "too_many_redirects", url, f"more than {self.policy.max_redirects} redirects"
                )
            current = self._checked_url(outcome.location, url, base=current)
            if leading_permanent and outcome.status in PERMANENT_REDIRECT_STATUSES:
                permanent = str(current)
            else:
                leading_permanent = False

    # --- one request ----------------------------------------------------------------------

    def _hop(
        self,
        target: httpx.URL,
        headers: dict[str, str],
        expect: Expect,
        deadline: Deadline,
        origin: str,
    ) -> FetchResult | _Redirect:
        with self.politeness.slot(target.host) as waited:
            deadline.extend(waited)  # queueing for a busy host is not the server's slowness
            if deadline.expired():
                self._timed_out(origin, deadline)
            timeouts = {
                "connect": min(self.policy.connect_timeout_s, deadline.remaining()),
                "read": self.policy.read_timeout_s,
                "write": self.policy.read_timeout_s,
                "pool": max(0.001, deadline.remaining()),
            }
            request_headers = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
            request_url = httpcore.URL(
                scheme=target.raw_scheme,
                host=target.raw_host,
                port=target.port,
                target=target.raw_path,
            )
            try:
                with self._pool.stream(
                    "GET", request_url, headers=request_headers, extensions={"timeout": timeouts}
                ) as response:
                    return self._answer(response, target, expect, deadline, origin)
            except AddressRefused as exc:
                raise FetchError("refused_private", origin, str(exc)) from exc
            except NameNotResolved as exc:
                raise FetchError("dns", origin, str(exc)) from exc
            except httpcore.TimeoutException as exc:
                self._timed_out(origin, deadline, exc)
            except httpcore.ConnectError as exc:
                tls_error = _ssl_error_in(exc)
                if tls_error is not None:
                    raise FetchError("tls", origin, str(tls_error)) from exc
                raise FetchError("connect", origin, str(exc) or "connection failed") from exc
            except (httpcore.ReadError, httpcore.WriteError) as exc:
                raise FetchError("network", origin, str(exc) or type(exc).__name__) from exc
            except httpcore.ProtocolError as exc:
                raise FetchError("protocol", origin, str(exc) or type(exc).__name__) from exc
            except httpcore.UnsupportedProtocol as exc:
                raise FetchError("unsupported_scheme", origin, str(exc)) from exc
            except ssl.SSLError as exc:
                raise FetchError("tls", origin, str(exc)) from exc
            except OSError as exc:
                raise FetchError("network", origin, str(exc) or type(exc).__name__) from exc

    def _timed_out(self, origin: str, deadline: Deadline, exc: Exception | None = None) -> NoReturn:
        if deadline.expired():
            message = f"total timeout of {deadline.seconds:g} s exceeded"
        else:
            message = f"{type(exc).__name__ if exc else 'timeout'}: {exc or 'timed out'}"
        raise FetchError("timeout", origin, message) from exc

    def _answer(
        self,
        response: httpcore.Response,
        target: httpx.URL,
        expect: Expect,
        deadline: Deadline,
        origin: str,
    ) -> FetchResult | _Redirect:
        status = response.status
        headers = _lowered_headers(response.headers)
        if status in REDIRECT_STATUSES:
            location = headers.get("location", "").strip()
            if not location:
                raise FetchError("bad_redirect", origin, f"HTTP {status} without Location")
            return _Redirect(status, location, response.headers)
        if status == 304:
            return FetchResult(str(target), status, headers, b"", not_modified=True)
        if status >= 300:
            retry_after = (
                parse_retry_after(headers.get("retry-after"))
                if status in RETRY_AFTER_STATUSES
                else None
            )
            raise FetchError(
                "http_status", origin, f"HTTP {status}", status=status, retry_after_s=retry_after
            )
        self._refuse(refuse_declared(expect, headers.get("content-type")), origin)
        body = self._read_body(response, headers, expect, deadline, origin)
        return FetchResult(str(target), status, headers, body)

    def _refuse(self, refusal: Refusal | None, origin: str) -> None:
        if refusal is not None:
            raise FetchError(refusal.kind, origin, refusal.reason)

    def _read_body(
        self,
        response: httpcore.Response,
        headers: dict[str, str],
        expect: Expect,
        deadline: Deadline,
        origin: str,
    ) -> bytes:
        limit = self.policy.max_body_bytes
        declared_length = headers.get("content-length", "").strip()
        if declared_length.isdigit() and int(declared_length) > limit:
            raise FetchError("too_large", origin, f"Content-Length {declared_length} > {limit}")
        try:
            decoder = BoundedDecoder(headers.get("content-encoding"), limit)
        except UnsupportedContentEncoding as exc:
            raise FetchError("unsupported_content_encoding", origin, str(exc)) from exc
        content_type = headers.get("content-type")
        parts: list[bytes] = []
        sniffed = False
        try:
            for chunk in response.iter_stream():
                parts.append(decoder.feed(chunk))
                if deadline.expired():
                    self._timed_out(origin, deadline)
                if not sniffed and decoder.decoded_bytes >= _SNIFF_BYTES:
                    # Judge the first bytes now: a mislabelled 10 MB PDF stops here, not at the end.
                    self._refuse(refuse_body(expect, content_type, b"".join(parts)), origin)
                    sniffed = True
            parts.append(decoder.finish())
        except BodyTooLarge as exc:
            kind = "decompression_bomb" if exc.compressed else "too_large"
            raise FetchError(kind, origin, str(exc)) from exc
        except BadContentEncoding as exc:
            raise FetchError("bad_content_encoding", origin, str(exc)) from exc
        body = b"".join(parts)
        if not sniffed:
            self._refuse(refuse_body(expect, content_type, body[:_SNIFF_BYTES]), origin)
        return body
