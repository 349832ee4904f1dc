"""X-Hub-Signature on WebSub content distribution (W3C WebSub §7.1), pure.

A hub given a `hub.secret` signs every delivery: `X-Hub-Signature: method=hexdigest`, an HMAC
of the raw request body keyed with the secret, `method` one of the recognised names (sha1,
sha256, sha384, sha512; most hubs still send sha1 for old subscribers, so it is accepted). The
subscriber recomputes it with the method the header names and MUST ignore a body whose
signature does not match; since newswatch always subscribes with a secret, an unsigned body is
ignored too (the spec's "rejects the distribution request when no signature is present").
The comparison is constant-time so the answer's timing tells a forger nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Literal

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

Verdict = Literal["valid", "missing", "malformed", "unknown_algorithm", "mismatch"]
# Why a body was ignored, as the label of the rejected-deliveries metric.
REJECTIONS: tuple[Verdict, ...] = ("missing", "malformed", "unknown_algorithm", "mismatch")


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The header value a hub sends for `body` (the test hub and the bench use it)."""
    digest = hmac.new(secret.encode("utf-8"), body, ALGORITHMS[method]).hexdigest()
    return f"{method}={digest}"


def check_signature(header: str | None, body: bytes, secret: str) -> Verdict:
    """Judge an X-Hub-Signature header against the body and the subscription's secret."""
    if header is None or not header.strip():
        return "missing"
    method, sep, signature = header.strip().partition("=")
    method = method.strip().lower()
    signature = signature.strip().lower()
    if not sep or not method or not signature:
        return "malformed"
    algorithm = ALGORITHMS.get(method)
    if algorithm is None:
        return "unknown_algorithm"
    expected = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    if len(signature) != len(expected) or any(c not in "0123456789abcdef" for c in signature):
        return "malformed"
    return "valid" if hmac.compare_digest(expected, signature) else "mismatch"
