"""Subscription requests to hubs (W3C WebSub §5.1) over the guarded sockets: the form sent,
a hub's redirect to another hub, a refusal's explanation, and the SSRF rules for hub URLs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.fetch.http_fetch import FetchPolicy
from ingest.websub.websub_hub_client import HubClient
from tests.support.websub_hub import WebSubHub

OPEN = FetchPolicy(user_agent="newswatch-test", allow_private_networks=True)


@pytest.fixture
def hub() -> Iterator[WebSubHub]:
    server = WebSubHub(behaviour="silent")
    yield server
    server.stop()


def test_the_request_is_the_form_the_spec_names(hub: WebSubHub) -> None:
    with HubClient(OPEN) as client:
        answer = client.request(hub.url, mode="subscribe", topic="https://x.example/feed",
                                callback="https://me.example/websub/f/tok", lease_s=600,
                                secret="s" * 64)
    assert answer.accepted and answer.status == 202
    assert hub.requests == [{"hub.mode": "subscribe", "hub.topic": "https://x.example/feed",
                             "hub.callback": "https://me.example/websub/f/tok",
                             "hub.lease_seconds": "600", "hub.secret": "s" * 64}]


def test_unsubscribe_sends_no_lease_and_no_secret(hub: WebSubHub) -> None:
    with HubClient(OPEN) as client:
        client.request(hub.url, mode="unsubscribe", topic="t", callback="c", lease_s=600,
                       secret="s")
    assert hub.requests == [{"hub.mode": "unsubscribe", "hub.topic": "t", "hub.callback": "c"}]


def test_a_hub_may_redirect_to_another(hub: WebSubHub) -> None:
    first = WebSubHub(behaviour="redirect", redirect_to=hub.url)
    try:
        with HubClient(OPEN) as client:
            answer = client.request(first.url, mode="subscribe", topic="t", callback="c")
    finally:
        first.stop()
    assert answer.accepted and answer.hub == hub.url
    assert len(first.requests) == 1 and len(hub.requests) == 1


def test_a_refusal_carries_the_hubs_explanation(hub: WebSubHub) -> None:
    hub.behaviour = "refuse"
    with HubClient(OPEN) as client:
        answer = client.request(hub.url, mode="subscribe", topic="t", callback="c")
    assert not answer.accepted and answer.status == 400
    assert answer.reason == "HTTP 400: topic not allowed on this hub"


@pytest.mark.parametrize("url", ["ftp://hub.example/", "file:///etc/passwd", "not a url"])
def test_only_http_hubs_are_contacted(url: str) -> None:
    with HubClient(OPEN) as client:
        answer = client.request(url, mode="subscribe", topic="t", callback="c")
    assert not answer.accepted and answer.status is None


def test_private_hub_addresses_are_refused_before_connecting(hub: WebSubHub) -> None:
    guarded = FetchPolicy(user_agent="newswatch-test", allow_private_networks=False)
    with HubClient(guarded) as client:
        answer = client.request(hub.url, mode="subscribe", topic="t", callback="c")
        metadata = client.request("http://169.254.169.254/hub", mode="subscribe", topic="t",
                                  callback="c")
    assert not answer.accepted and answer.reason.startswith("refused_private")
    assert metadata.reason.startswith("refused_private")
    assert hub.requests == []
