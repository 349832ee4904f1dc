"""HTTP fetching for feeds and pages. (Interim implementation: being hardened for issue 3.)"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str
    allow_private_networks: bool = False
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    not_modified: bool = False
    # Set when the chain began with a 301/308: where the resource now permanently lives.
    permanent_redirect: str | None = None
    elapsed_s: float = 0.0
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


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
        super().__init__(f"{kind}: {message} ({url})")


class Fetcher:
    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._client = httpx.Client(
            headers={"User-Agent": policy.user_agent},
            timeout=httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s),
            follow_redirects=True,
            max_redirects=policy.max_redirects,
        )

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        try:
            response = self._client.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", url, str(exc) or "timed out") from exc
        except httpx.HTTPError as exc:
            raise FetchError("connect", url, str(exc) or type(exc).__name__) from exc
        result = FetchResult(
            url=str(response.url),
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=response.content,
            not_modified=response.status_code == 304,
            elapsed_s=time.monotonic() - started,
        )
        if response.status_code >= 400:
            raise FetchError(
                "http_status", url, f"HTTP {response.status_code}", status=response.status_code
            )
        return result

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
