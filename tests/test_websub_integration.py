"""WebSub end to end on real sockets: a hub of our own in the test process, the callback
server, the poller's ingestion path, and the embedded Kafka + Elasticsearch."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from flows.cli.feeds import feeds
from infra.embedded_stack import free_port
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_metrics import FeedStateCollector
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.fetch.http_fetch import FetchPolicy
from ingest.poll.poll_run import open_poller, poll_once, prepare_ingest
from ingest.websub.websub_callback import CallbackServer
from ingest.websub.websub_hub_client import HubClient
from ingest.websub.websub_policy import WebSubPolicy
from ingest.websub.websub_service import DELIVERIES, WebSubService, websub_running
from ingest.websub.websub_signature import sign
from ingest.websub.websub_state import Subscription, SubscriptionStore
from tests.conftest import REPO
from tests.support.http_fixture_server import ARTICLE_PAGE, FixtureServer
from tests.support.kafka_tools import read_all
from tests.support.websub_hub import WebSubHub

FEED = "pushed"


class Clock:
    """The service's clock, moved by hand for leases (nothing here sleeps for a lease)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        from ingest.message.article import utcnow

        return utcnow() + self.offset


@dataclass
class Push:
    settings: Settings
    site: FixtureServer
    hub: WebSubHub
    service: WebSubService
    store: SubscriptionStore
    feeds: dict[str, FeedConfig]
    clock: Clock
    callback_base: str

    @property
    def topic(self) -> str:
        return self.site.url("/feed.xml")

    def feed_body(self, items: list[int], *, hub: bool = True) -> bytes:
        links = (f'<atom:link rel="hub" href="{self.hub.url}"/>'
                 f'<atom:link rel="self" href="{self.topic}"/>') if hub else ""
        body = "".join(f"<item><title>Story {n}</title><link>{self.site.url(f'/a{n}.html')}"
                       f"</link><description>Summary {n}.</description></item>"
                       for n in items)
        return (f'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
                f"<title>pushed</title>{links}{body}</channel></rss>").encode()

    def serve_feed(self, items: list[int], *, hub: bool = True) -> bytes:
        for n in items:
            self.site.add(f"/a{n}.html", ARTICLE_PAGE.replace("A paragraph", f"Story {n}. A"))
        body = self.feed_body(items, hub=hub)
        self.site.add("/feed.xml", body, "application/rss+xml")
        return body

    def poll(self) -> int:
        return poll_once(self.settings, list(self.feeds.values()), clock=self.clock).produced

    def sub(self) -> Subscription | None:
        return self.store.get(FEED)

    def subscribe(self) -> Subscription:
        """First poll (discovery), one maintenance round (request), the hub's verification."""
        self.serve_feed([1])
        assert self.poll() == 1
        assert self.service.maintain_once() == {"subscribe": 1}
        assert self.hub.wait_verifications(1)[-1].confirmed
        sub = self.sub()
        assert sub is not None and sub.status == "active"
        return sub

    def articles(self) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in
                read_all(self.settings.kafka_bootstrap, self.settings.articles_topic)]

    def wait(self, condition: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.1)


@pytest.fixture
def push(settings: Settings, fixture_server: FixtureServer) -> Iterator[Push]:
    with _harness(settings, fixture_server) as harness:
        yield harness


@contextmanager
def _harness(settings: Settings, fixture_server: FixtureServer) -> Iterator[Push]:
    hub = WebSubHub()
    clock = Clock()
    feeds = {FEED: FeedConfig(name=FEED, url=fixture_server.url("/feed.xml"))}  # type: ignore[arg-type]
    poll_once(settings, [])  # topics and indices
    es = make_es(settings)
    store = SubscriptionStore.from_settings(es, settings)
    policy = WebSubPolicy.from_settings(settings)
    try:
        with open_poller(settings, es, clock=clock) as poller, \
                HubClient(FetchPolicy.from_settings(settings)) as hubs:
            service = WebSubService(store=store, policy=policy, hubs=hubs, poller=poller,
                                    feeds=lambda: feeds, callback_base=None, clock=clock,
                                    feed_states=FeedStateStore.from_settings(es, settings))
            server = CallbackServer(service, bind="127.0.0.1", port=0,
                                    max_body_bytes=settings.max_body_bytes).start()
            service.callback_base = f"http://127.0.0.1:{server.port}"
            service.start_deliveries()
            try:
                yield Push(settings, fixture_server, hub, service, store, feeds, clock,
                           service.callback_base)
            finally:
                server.stop()
                service.stop()
    finally:
        hub.stop()
        es.close()


def test_subscribe_verify_deliver_and_one_document_for_push_and_poll(push: Push) -> None:
    sub = push.subscribe()
    request = push.hub.requests[0]
    assert request["hub.mode"] == "subscribe"
    assert request["hub.topic"] == push.topic
    assert request["hub.callback"].startswith(push.callback_base + "/websub/pushed/")
    assert request["hub.lease_seconds"] == str(push.settings.websub_lease_s)
    assert 0 < len(request["hub.secret"].encode()) < 200
    assert sub.lease_s == push.hub.lease_s  # the hub's grant, not what was asked

    body = push.serve_feed([2, 1])
    answer = push.hub.publish(push.topic, body)
    assert answer.status_code == 202
    push.wait(lambda: len(push.articles()) == 2)
    story2 = next(a for a in push.articles() if a["title"] == "Story 2")
    assert story2["extraction"]["source"] == "page"  # page fetched and extracted as polled
    assert "Story 2. A" in story2["text"]

    assert push.hub.publish(push.topic, body, method="sha1").status_code == 202  # again
    push.wait(lambda: (push.sub() or sub).deliveries == 2)
    assert len(push.articles()) == 2  # seen entries: delivered twice, produced once
    assert push.poll() == 0  # the poll finds them seen too: one document per article
    assert push.site.hits("/a2.html") == 1

    es = make_es(push.settings)
    try:
        state = FeedStateStore.from_settings(es, push.settings).get(FEED)
    finally:
        es.close()
    assert state is not None
    assert state.interval_s == push.settings.websub_poll_interval_s  # pushed: polled rarely
    final = push.sub()
    assert final is not None and final.delivered_articles == 1


def test_bad_or_missing_signatures_and_unknown_callbacks_are_refused(push: Push) -> None:
    sub = push.subscribe()
    body = push.serve_feed([3, 1])
    before = DELIVERIES.labels("signature_mismatch")._value.get()
    assert push.hub.publish(push.topic, body, signature="bad").status_code == 202
    assert push.hub.publish(push.topic, body, signature="none").status_code == 202
    assert DELIVERIES.labels("signature_mismatch")._value.get() == before + 1
    after = push.sub()
    assert after is not None and after.rejected_deliveries == 2
    assert after.last_rejected_reason == "signature missing"

    callback = push.hub.subscriber(push.topic).callback
    stale = callback.rsplit("/", 1)[0] + "/not-the-token"
    assert push.hub.publish(push.topic, body, callback=stale).status_code == 410
    other = f"{push.callback_base}/websub/unknown-feed/{sub.callback_token}"
    assert push.hub.publish(push.topic, body, callback=other).status_code == 410
    assert httpx.post(f"{push.callback_base}/elsewhere", content=b"x").status_code == 404
    time.sleep(1)  # anything wrongly queued would be produced by now
    assert [a["title"] for a in push.articles()] == ["Story 1"]
    assert push.site.hits("/a3.html") == 0  # nothing a refused body names is fetched


def test_a_body_over_the_limit_is_refused_unread_and_the_next_one_flows(push: Push) -> None:
    push.subscribe()
    huge = b"<rss>" + b" " * (push.settings.max_body_bytes + 1) + b"</rss>"
    answer = push.hub.publish(push.topic, huge)
    assert answer.status_code == 413
    body = push.serve_feed([4, 1])
    assert push.hub.publish(push.topic, body).status_code == 202
    push.wait(lambda: len(push.articles()) == 2)
    chunked = httpx.post(push.hub.subscriber(push.topic).callback,
                         content=iter([b"<rss>", b"</rss>"]))
    assert chunked.status_code == 411  # no declared length, nothing read


def test_verification_is_refused_for_what_newswatch_did_not_ask(push: Push) -> None:
    sub = push.subscribe()
    callback = push.hub.subscriber(push.topic).callback
    wrong_topic = push.hub.verify_by_hand(callback, mode="subscribe", topic=push.topic + "?x")
    assert wrong_topic.status_code == 404 and wrong_topic.text == ""
    unasked = push.hub.verify_by_hand(callback, mode="unsubscribe", topic=push.topic)
    assert unasked.status_code == 404
    stale = push.hub.verify_by_hand(callback.rsplit("/", 1)[0] + "/guess", mode="subscribe",
                                    topic=push.topic)
    assert stale.status_code == 404
    still = push.sub()
    assert still is not None and still.status == "active" and still.verified_at == sub.verified_at


def test_leases_are_renewed_before_they_expire(push: Push) -> None:
    push.hub.lease_s = 7200
    sub = push.subscribe()
    assert push.service.maintain_once() == {}  # nothing due yet
    push.clock.offset = timedelta(seconds=7200 - 3600 + 1)  # inside the renewal margin
    assert push.service.maintain_once() == {"subscribe": 1}
    verifications = push.hub.wait_verifications(2)
    assert verifications[-1].confirmed and verifications[-1].mode == "subscribe"
    renewed = push.sub()
    assert renewed is not None and renewed.status == "active"
    assert renewed.lease_expires is not None and sub.lease_expires is not None
    assert renewed.lease_expires > sub.lease_expires
    # §5.1.1: a renewal asks for a fresh callback and secret; they hold once verified
    first, second = push.hub.requests
    assert second["hub.callback"] != first["hub.callback"]
    assert second["hub.secret"] != first["hub.secret"]
    assert renewed.callback_token != sub.callback_token and renewed.pending_token is None
    assert second["hub.callback"].endswith("/" + renewed.callback_token)
    body = push.serve_feed([10, 1])
    assert push.hub.publish(push.topic, body, callback=first["hub.callback"]).status_code == 410
    assert push.hub.publish(push.topic, body).status_code == 202  # the new callback, new secret
    push.wait(lambda: len(push.articles()) == 2)


def test_an_unverified_renewal_lapses_and_the_feed_is_polled_normally(push: Push) -> None:
    push.hub.lease_s = 7200
    push.subscribe()
    assert push.poll() == 0  # polled while pushed: next poll in 6 h
    push.hub.behaviour = "silent"
    push.clock.offset = timedelta(seconds=3601)
    assert push.service.maintain_once() == {"subscribe": 1}
    push.clock.offset = timedelta(seconds=3601 + push.settings.websub_verify_timeout_s)
    assert push.service.maintain_once() == {"verify_timeout": 1}
    still = push.sub()
    assert still is not None and still.status == "active"  # the old lease still runs
    push.clock.offset = timedelta(seconds=7201)
    es = make_es(push.settings)
    feed_states = FeedStateStore.from_settings(es, push.settings)
    try:
        pushed_state = feed_states.get(FEED)
        assert pushed_state is not None and pushed_state.next_due is not None
        assert pushed_state.next_due > push.clock()  # the long interval of a pushed feed
        assert push.service.maintain_once() == {"expire": 1}
        lapsed = push.sub()
        assert lapsed is not None and lapsed.status == "failed"
        assert "lease expired" in (lapsed.reason or "")
        due = feed_states.get(FEED)
        assert due is not None and due.next_due is not None
        assert due.next_due <= push.clock()  # polled at once, not 6 h after the last poll
    finally:
        es.close()
    push.serve_feed([5, 1])
    assert push.poll() == 1
    es = make_es(push.settings)
    try:
        state = FeedStateStore.from_settings(es, push.settings).get(FEED)
    finally:
        es.close()
    assert state is not None and state.interval_s is not None
    assert state.interval_s < push.settings.websub_poll_interval_s  # back to its own pace


def test_denied_and_refused_subscriptions_fall_back_to_polling(push: Push) -> None:
    push.hub.behaviour = "deny"
    push.serve_feed([1])
    assert push.poll() == 1
    assert push.service.maintain_once() == {"subscribe": 1}
    assert push.hub.wait_verifications(1)[-1].status == 200
    push.wait(lambda: getattr(push.sub(), "status", None) == "denied")
    denied = push.sub()
    assert denied is not None and denied.reason == "hub denied: not on my watch"
    assert push.service.maintain_once() == {}  # not asked again before the denial retry

    push.store.delete(FEED)
    push.hub.behaviour = "refuse"
    push.serve_feed([6, 1])
    assert push.poll() == 1  # rediscovered
    assert push.service.maintain_once() == {"subscribe": 1}
    refused = push.sub()
    assert refused is not None and refused.status == "failed"
    assert refused.reason == ("hub refused the subscribe request: HTTP 400: topic not allowed "
                              "on this hub")


def test_a_poll_finding_undelivered_entries_falls_back(push: Push) -> None:
    push.subscribe()
    push.serve_feed([7, 1])
    assert push.poll() == 1  # the hub never pushed story 7
    missed = push.sub()
    assert missed is not None and missed.status == "failed" and missed.missed_entries == 1


def test_removed_feed_is_unsubscribed_and_forgotten(push: Push) -> None:
    push.subscribe()
    callback = push.hub.subscriber(push.topic).callback
    del push.feeds[FEED]
    assert push.service.maintain_once() == {"unsubscribe": 1}
    verifications = push.hub.wait_verifications(2)
    assert verifications[-1].mode == "unsubscribe" and verifications[-1].confirmed
    push.wait(lambda: push.sub() is None)
    assert push.hub.requests[-1]["hub.mode"] == "unsubscribe"
    assert push.hub.subscriptions == {}
    late = httpx.post(callback, content=push.feed_body([8]),
                      headers={"Content-Type": "application/rss+xml"})
    assert late.status_code == 410


def test_a_feed_that_stops_naming_a_hub_is_unsubscribed(push: Push) -> None:
    push.subscribe()
    push.serve_feed([1], hub=False)
    push.poll()
    unwanted = push.sub()
    assert unwanted is not None and not unwanted.wanted
    assert push.service.maintain_once() == {"unsubscribe": 1}
    push.wait(lambda: push.sub() is None)


def test_ssrf_rules_hold_for_hubs_and_for_what_a_delivery_names(
    settings: Settings, fixture_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_PRIVATE_NETWORKS", "false")
    guarded = Settings(_env_file=None)  # type: ignore[call-arg]
    with _harness(guarded, fixture_server) as push:
        now = push.clock()
        push.store.save(Subscription(
            feed=FEED, hub=push.hub.url, topic=push.topic, discovery_source="feed",
            callback_token="tok", secret="sec", status="discovered", status_since=now))
        assert push.service.maintain_once() == {"subscribe": 1}
        refused = push.sub()
        assert refused is not None and refused.status == "failed"
        assert "refused_private" in (refused.reason or "")
        assert push.hub.requests == []  # the loopback hub was never contacted

        push.store.save(refused.model_copy(update={
            "status": "active", "lease_expires": now + timedelta(days=1)}))
        body = push.serve_feed([9])
        answer = httpx.post(f"{push.callback_base}/websub/{FEED}/tok", content=body,
                            headers={"Content-Type": "application/rss+xml",
                                     "X-Hub-Signature": sign(body, "sec")})
        assert answer.status_code == 202
        push.wait(lambda: len(push.articles()) == 1)
        article = push.articles()[0]
        assert article["extraction"]["source"] == "feed_entry"  # the page was not fetched
        assert "refused_private" in article["extraction"]["error"]
        assert push.site.hits("/a9.html") == 0


def test_feeds_show_and_health_say_how_each_feed_is_fed(push: Push) -> None:
    sub = push.subscribe()
    shown = CliRunner().invoke(feeds, ["show", FEED], obj=push.settings,
                               catch_exceptions=False).output
    assert "websub                 active (pushed, polled every 6.0h)" in shown
    assert f"websub_hub             {push.hub.url}" in shown
    assert sub.secret not in shown and sub.callback_token not in shown
    as_json = json.loads(CliRunner().invoke(feeds, ["show", FEED, "--json"],
                                            obj=push.settings).output)
    assert as_json["websub"]["status"] == "active" and "secret" not in as_json["websub"]

    push.hub.behaviour = "deny"
    push.service.maintain_once()  # nothing due: still active
    push.clock.offset = timedelta(seconds=push.hub.lease_s - 60)  # renewal due: denied
    push.service.maintain_once()
    push.wait(lambda: getattr(push.sub(), "status", None) == "denied")
    health = CliRunner().invoke(feeds, ["health"], obj=push.settings,
                                catch_exceptions=False).output
    assert "push (WebSub) subscriptions: discovered 0, pending 0, active 0, failed 0, " \
           "denied 1" in health
    assert f"push failed for {FEED} (denied" in health
    assert "hub denied: not on my watch; polled normally" in health
    es = make_es(push.settings)
    try:
        es.indices.refresh(index=push.settings.websub_index)
        registry = CollectorRegistry()
        registry.register(FeedStateCollector(es, push.settings.feeds_index,
                                             push.settings.drift_index,
                                             push.settings.websub_index))
        assert registry.get_sample_value("newswatch_websub_subscriptions",
                                         {"status": "denied"}) == 1
    finally:
        es.close()


def test_the_service_as_serve_runs_it_subscribes_and_ingests_on_its_own(
    settings: Settings, fixture_server: FixtureServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`websub_running` from settings alone: feeds.yaml read from the config dir, requests
    sent by the maintenance loop, the callback on NEWSWATCH_WEBSUB_PORT, hubs told
    NEWSWATCH_WEBSUB_PUBLIC_URL; removing the feed from feeds.yaml unsubscribes it."""
    port = free_port()
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    feeds_file = config / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - name: {FEED}\n    url: {fixture_server.url('/feed.xml')}\n",
                          encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    monkeypatch.setenv("NEWSWATCH_WEBSUB_PORT", str(port))
    monkeypatch.setenv("NEWSWATCH_WEBSUB_PUBLIC_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("NEWSWATCH_WEBSUB_CHECK_S", "0.2")
    served = Settings(_env_file=None)  # type: ignore[call-arg]
    hub = WebSubHub()
    prepare_ingest(served)  # as `newswatch serve` does first
    try:
        with websub_running(served) as service:
            assert service is not None
            harness = Push(served, fixture_server, hub, service, service.store,
                           {}, Clock(), f"http://127.0.0.1:{port}")
            harness.serve_feed([1])
            assert poll_once(served).produced == 1
            assert hub.wait_verifications(1)[-1].confirmed  # subscribed by the loop itself
            assert hub.requests[0]["hub.callback"].startswith(
                f"http://127.0.0.1:{port}/websub/{FEED}/")
            harness.wait(lambda: getattr(harness.sub(), "status", None) == "active")
            assert hub.publish(harness.topic, harness.serve_feed([2, 1])).status_code == 202
            harness.wait(lambda: len(harness.articles()) == 2)
            feeds_file.write_text("feeds: []\n", encoding="utf-8")
            verifications = hub.wait_verifications(2)
            assert verifications[-1].mode == "unsubscribe" and verifications[-1].confirmed
            harness.wait(lambda: harness.sub() is None)
    finally:
        hub.stop()


def test_no_subscriptions_index_yet_means_no_subscriptions(settings: Settings) -> None:
    es = make_es(settings)
    try:
        assert SubscriptionStore(es, f"{settings.websub_index}-never-created").all() == []
    finally:
        es.close()
