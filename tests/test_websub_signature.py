"""X-Hub-Signature checks (W3C WebSub §7.1): what is accepted, what is ignored and why."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ingest.websub.websub_signature import check_signature, sign

BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
SECRET = "s3cret-of-this-subscription"


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_recognised_method_verifies(method: str) -> None:
    digest = hmac.new(SECRET.encode(), BODY, getattr(hashlib, method)).hexdigest()
    assert check_signature(f"{method}={digest}", BODY, SECRET) == "valid"
    assert sign(BODY, SECRET, method) == f"{method}={digest}"


def test_upper_case_hex_and_method_are_the_same_signature() -> None:
    method, _, digest = sign(BODY, SECRET).partition("=")
    assert check_signature(f"{method.upper()}={digest.upper()}", BODY, SECRET) == "valid"


def test_a_body_changed_after_signing_is_a_mismatch() -> None:
    assert check_signature(sign(BODY, SECRET), BODY + b" ", SECRET) == "mismatch"


def test_another_secret_is_a_mismatch() -> None:
    assert check_signature(sign(BODY, "other"), BODY, SECRET) == "mismatch"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_unsigned_bodies_are_missing(header: str | None) -> None:
    assert check_signature(header, BODY, SECRET) == "missing"


@pytest.mark.parametrize("header", ["sha256", "sha256=", "=abc", "sha256=xyz",
                                    "sha256=" + "0" * 10])
def test_malformed_headers(header: str) -> None:
    assert check_signature(header, BODY, SECRET) == "malformed"


def test_unknown_algorithms_are_not_guessed() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.md5).hexdigest()
    assert check_signature(f"md5={digest}", BODY, SECRET) == "unknown_algorithm"
