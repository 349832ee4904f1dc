"""Webhook signatures: `X-Newswatch-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

The receiver recomputes the HMAC over the bytes it received, before parsing them, with the
shared secret; `verify_signature` is what a Python receiver calls.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Newswatch-Signature"


def sign_body(body: bytes, secret: str | bytes) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str | bytes) -> bool:
    """Constant-time check of a signature header against the raw body."""
    if not header:
        return False
    return hmac.compare_digest(sign_body(body, secret), header.strip())
