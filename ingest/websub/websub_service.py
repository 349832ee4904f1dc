"""WebSub in the poll service: the callback's answers, the delivered bodies' ingestion, and the
loop that sends (un)subscription requests, renews leases and lets failed ones fall back.

* Verification (GET): the challenge is echoed only for what newswatch asked for
  (`ingest.websub.websub_policy.verification_accepted`), after the new state is written, so a
  delivery right behind the verification finds the subscription active. 404 otherwise.
* Delivery (POST): an unknown callback (no such feed, a stale token, a feed no longer
  wanted) is answered 410, which tells the hub to drop the subscription (§7). A body whose
  X-Hub-Signature is missing or wrong is ignored, counted on the subscription and in
  metrics, and acknowledged 202 (§7.1.2: MUST ignore; MAY acknowledge with 2xx so a forger
  learns nothing). A good body is queued and acknowledged 202 at once (§7: answer quickly,
  2xx means received); a full queue answers 503, so the hub retries later. Queued bodies go
  through `Poller.ingest_pushed`, the very path of a polled body.
* Maintenance (every `NEWSWATCH_WEBSUB_CHECK_S`): `ingest.websub.websub_policy.next_action` for
  every subscription. Requests go out through `ingest.websub.websub_hub_client` (guarded sockets).
  Without `NEWSWATCH_WEBSUB_PUBLIC_URL` nothing is subscribed: the reason is recorded.
"""

from __future__ import annotations

import hmac
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter

from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedStateStore, StaleVersion
from ingest.feeds.feeds_config import FeedConfig, load_feeds
from ingest.message.article import utcnow
from ingest.poll.poller import Poller
from ingest.websub.websub_callback import CallbackServer, callback_path
from ingest.websub.websub_hub_client import HubClient
from ingest.websub.websub_policy import (
    WebSubPolicy,
    after_denied,
    after_expiry,
    after_request,
    after_verified,
    after_verify_timeout,
    before_request,
    is_pushing,
    next_action,
    renewal_rotates,
    verification_accepted,
)
from ingest.websub.websub_signature import check_signature
from ingest.websub.websub_state import Mode, Subscription, SubscriptionStore, new_secret, new_token

log = logging.getLogger(__name__)

DELIVERIES = Counter("newswatch_websub_deliveries_total",
                     "WebSub content deliveries by outcome (accepted, signature_missing, "
                     "signature_mismatch, ..., unknown_subscription, too_large, queue_full)",
                     ["outcome"])
VERIFICATIONS = Counter("newswatch_websub_verifications_total",
                        "Hub verification requests by mode and answer", ["mode", "answer"])
HUB_REQUESTS = Counter("newswatch_websub_requests_total",
                       "Subscription requests sent to hubs, by mode and result",
                       ["mode", "result"])
PUSHED_ARTICLES = Counter("newswatch_websub_articles_total", "Articles produced from pushes")


@dataclass(frozen=True)
class _Delivery:
    feed: FeedConfig
    topic: str
    content_type: str | None
    body: bytes


class ConfiguredFeeds:
    """feeds.yaml's enabled feeds by name, re-read when the file changes."""

    def __init__(self, settings: Settings) -> None:
        self._path = settings.feeds_file
        self._mtime: float | None = None
        self._feeds: dict[str, FeedConfig] = {}
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, FeedConfig]:
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime
            except OSError:
                return {}
            if mtime != self._mtime:
                self._feeds = {f.name: f for f in load_feeds(self._path).feeds if f.enabled}
                self._mtime = mtime
            return self._feeds


class WebSubService:
    def __init__(
        self, *, store: SubscriptionStore, policy: WebSubPolicy, hubs: HubClient,
        poller: Poller, feeds: Callable[[], dict[str, FeedConfig]],
        callback_base: str | None, queue_size: int = 64, delivery_threads: int = 2,
        clock: Callable[[], datetime] = utcnow, feed_states: FeedStateStore | None = None,
    ) -> None:
        self.store = store
        self.feed_states = feed_states  # to poll a feed at once when its push ends
        self.policy = policy
        self.hubs = hubs
        self.poller = poller
        self.feeds = feeds
        self.callback_base = callback_base
        self.clock = clock
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(queue_size)
        self._pages = ThreadPoolExecutor(8, thread_name_prefix="websub-page")
        self._workers = [threading.Thread(target=self._work, name=f"websub-delivery-{i}",
                                          daemon=True) for i in range(delivery_threads)]
        self._stopping = threading.Event()
        self._maintainer: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self, check_s: float) -> WebSubService:
        self.start_deliveries()
        self._maintainer = threading.Thread(target=self._maintain_forever, args=(check_s,),
                                            name="websub-maintenance", daemon=True)
        self._maintainer.start()
        return self

    def start_deliveries(self) -> WebSubService:
        """The threads that ingest queued bodies (tests drive maintenance by hand)."""
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        started = [w for w in self._workers if w.is_alive()]
        for _ in started:
            self._queue.put(None)
        for worker in started:
            worker.join(timeout=30)
        if self._maintainer is not None:
            self._maintainer.join(timeout=30)
        self._pages.shutdown(wait=True)

    def callback_url(self, sub: Subscription, token: str | None = None) -> str | None:
        if self.callback_base is None:
            return None
        return self.callback_base + callback_path(sub.feed, token or sub.callback_token)

    # --- the callback (CallbackHandler) ----------------------------------------------------
    def _subscription(self, feed: str, token: str) -> tuple[Subscription, bool] | None:
        """The subscription this callback belongs to, and whether it is the callback a
        renewal asked for (not yet verified) rather than the current one."""
        sub = self.store.get(feed)
        if sub is None:
            return None
        if hmac.compare_digest(sub.callback_token.encode(), token.encode()):
            return sub, False
        if sub.pending_token and hmac.compare_digest(sub.pending_token.encode(),
                                                     token.encode()):
            return sub, True
        return None

    def verify(self, feed: str, token: str, params: dict[str, str]) -> tuple[int, bytes]:
        mode = params.get("hub.mode", "")
        topic = params.get("hub.topic", "")
        found = self._subscription(feed, token)
        sub, pending = found if found is not None else (None, False)
        now = self.clock()
        if mode == "denied":
            if sub is None or topic != sub.topic:
                VERIFICATIONS.labels("denied", "not_found").inc()
                return 404, b""
            self._fall_back_if(feed, lambda s: after_denied(s, params.get("hub.reason"), now,
                                                           self.policy))
            VERIFICATIONS.labels("denied", "recorded").inc()
            log.warning("WebSub subscription denied by the hub; the feed is polled normally",
                        extra={"feed": feed, "hub": sub.hub, "reason": params.get("hub.reason")})
            return 200, b""
        challenge = params.get("hub.challenge", "")
        configured = feed in self.feeds()
        if not challenge or not verification_accepted(sub, mode=mode, topic=topic,
                                                      configured=configured, pending=pending):
            VERIFICATIONS.labels(mode[:20] or "none", "refused").inc()
            log.info("WebSub verification refused: not something newswatch asked for",
                     extra={"feed": feed, "mode": mode, "topic": topic})
            return 404, b""
        lease_text = params.get("hub.lease_seconds", "").strip()
        lease = int(lease_text) if lease_text.isdigit() else None
        written = self.store.update(
            feed, lambda s: after_verified(s, mode, lease, now, self.policy, pending=pending))
        if written is None and mode == "subscribe":
            return 404, b""  # deleted meanwhile
        VERIFICATIONS.labels(mode, "confirmed").inc()
        log.info("WebSub %s verified", mode, extra={"feed": feed, "topic": topic,
                                                     "lease_s": lease})
        return 200, challenge.encode("utf-8")

    def refuse(self, reason: str) -> None:
        DELIVERIES.labels(reason).inc()

    def deliver(self, feed: str, token: str, headers: dict[str, str], body: bytes) -> int:
        found = self._subscription(feed, token)
        config = self.feeds().get(feed)
        if found is None or not found[0].wanted or config is None:
            DELIVERIES.labels("unknown_subscription").inc()
            log.warning("WebSub delivery for no subscription of ours: 410",
                        extra={"feed": feed, "bytes": len(body)})
            return 410  # §7: the hub MAY drop the subscription on 410
        sub, pending = found
        secret = sub.pending_secret if pending and sub.pending_secret else sub.secret
        verdict = check_signature(headers.get("x-hub-signature"), body, secret)
        if verdict != "valid":
            DELIVERIES.labels(f"signature_{verdict}").inc()
            now = self.clock()

            def rejected(s: Subscription) -> Subscription:
                return s.model_copy(update={
                    "rejected_deliveries": s.rejected_deliveries + 1,
                    "last_rejected_at": now, "last_rejected_reason": f"signature {verdict}"})
            self.store.update(feed, rejected)
            log.warning("WebSub delivery ignored: signature %s", verdict,
                        extra={"feed": feed, "hub": sub.hub, "bytes": len(body)})
            return 202
        try:
            self._queue.put_nowait(_Delivery(config, sub.topic, headers.get("content-type"),
                                             body))
        except queue.Full:
            DELIVERIES.labels("queue_full").inc()
            return 503
        DELIVERIES.labels("accepted").inc()
        return 202

    # --- delivered bodies ---------------------------------------------------------------
    def _work(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self.ingest(delivery)
            except Exception:  # one bad body must not end the worker
                log.exception("WebSub delivery not ingested", extra={"feed": delivery.feed.name})

    def ingest(self, delivery: _Delivery) -> None:
        headers = {"content-type": delivery.content_type} if delivery.content_type else {}
        outcome = self.poller.ingest_pushed(delivery.feed, delivery.body, topic=delivery.topic,
                                            headers=headers, pages=self._pages)
        now = self.clock()
        PUSHED_ARTICLES.inc(outcome.produced)

        def delivered(s: Subscription) -> Subscription:
            return s.model_copy(update={
                "deliveries": s.deliveries + 1, "last_delivery_at": now,
                "delivered_articles": s.delivered_articles + outcome.produced})
        self.store.update(delivery.feed.name, delivered)
        level = logging.INFO if outcome.result == "ok" else logging.WARNING
        log.log(level, "WebSub delivery ingested", extra={
            "feed": delivery.feed.name, "url": delivery.topic, "result": outcome.result,
            "error": outcome.error, "entries": outcome.entries, "new": outcome.new_entries,
            "produced": outcome.produced})

    # --- maintenance --------------------------------------------------------------------
    def _maintain_forever(self, check_s: float) -> None:
        while not self._stopping.is_set():
            try:
                self.maintain_once()
            except Exception:  # Elasticsearch away: try again next round
                log.exception("WebSub maintenance round failed")
            self._stopping.wait(check_s)

    def maintain_once(self) -> dict[str, int]:
        """One pass over every subscription; returns how many got each action."""
        configured = self.feeds()
        done: dict[str, int] = {}
        for sub in self.store.all():
            now = self.clock()
            action = next_action(sub, now=now, configured=sub.feed in configured,
                                 policy=self.policy)
            if action is None:
                continue
            done[action] = done.get(action, 0) + 1
            if action in ("subscribe", "unsubscribe"):
                self._request(sub, action)
            elif action == "forget":
                self.store.delete(sub.feed)
                log.info("WebSub subscription forgotten", extra={"feed": sub.feed,
                                                                 "hub": sub.hub})
            elif action == "expire":
                self._fall_back_if(sub.feed, self._changer(after_expiry, now))
                log.warning("WebSub lease expired; the feed is polled normally",
                            extra={"feed": sub.feed, "hub": sub.hub})
            elif action == "verify_timeout":
                self._fall_back_if(sub.feed, self._changer(after_verify_timeout, now))
                log.warning("WebSub hub never verified the request",
                            extra={"feed": sub.feed, "hub": sub.hub})
        return done

    def _fall_back_if(self, feed: str,
                      change: Callable[[Subscription], Subscription | None]) -> None:
        """Apply `change`; if it ends the push, the feed is polled at once rather than at the
        end of the long interval its last poll set (then at its own interval again)."""
        was: list[bool] = []

        def tracked(sub: Subscription) -> Subscription | None:
            was[:] = [sub.status == "active"]  # its last poll may have set the long interval
            return change(sub)
        after = self.store.update(feed, tracked)
        if was and was[0] and not is_pushing(after, self.clock()):
            self._poll_soon(feed)

    def _poll_soon(self, feed: str) -> None:
        if self.feed_states is None:
            return
        now = self.clock()
        found = self.feed_states.load_versioned([feed]).get(feed)
        if found is None:
            return
        state, version = found
        if state.lease_until is not None and state.lease_until > now:
            return  # being polled now; that poll sets the normal interval
        if state.next_due is None or state.next_due <= now:
            return
        try:
            self.feed_states.save(state.model_copy(update={"next_due": now}), version=version)
        except StaleVersion:
            return  # a poll claimed it meanwhile: just as good
        log.info("WebSub push ended: feed due for polling now", extra={"feed": feed})

    def _changer(
        self, change: Callable[[Subscription, datetime, WebSubPolicy], Subscription],
        now: datetime,
    ) -> Callable[[Subscription], Subscription]:
        return lambda sub: change(sub, now, self.policy)

    def _request(self, sub: Subscription, mode: Mode) -> None:
        rotate = (new_token(), new_secret()) if renewal_rotates(sub, mode) else None
        callback = self.callback_url(sub, rotate[0] if rotate else None)
        if callback is None:
            reason = "not subscribed: NEWSWATCH_WEBSUB_PUBLIC_URL is not set"
            if sub.reason != reason and mode == "subscribe":
                self.store.update(sub.feed, lambda s: s.model_copy(update={"reason": reason}))
            if mode == "unsubscribe":
                self.store.delete(sub.feed)
            return
        now = self.clock()
        if self.store.update(sub.feed,
                             lambda s: before_request(s, mode, now, rotate=rotate)) is None:
            return
        answer = self.hubs.request(sub.hub, mode=mode, topic=sub.topic, callback=callback,
                                   lease_s=self.policy.lease_s,
                                   secret=rotate[1] if rotate else sub.secret)
        HUB_REQUESTS.labels(mode, "accepted" if answer.accepted else "refused").inc()
        self._fall_back_if(sub.feed, lambda s: after_request(
            s, mode, accepted=answer.accepted, reason=answer.reason, now=self.clock(),
            policy=self.policy))
        log.log(logging.INFO if answer.accepted else logging.WARNING,
                "WebSub %s request %s", mode, "accepted" if answer.accepted else "refused",
                extra={"feed": sub.feed, "hub": answer.hub, "topic": sub.topic,
                       "reason": answer.reason})


@contextmanager
def websub_running(settings: Settings,
                   clock: Callable[[], datetime] = utcnow) -> Iterator[WebSubService | None]:
    """The callback server, the delivery workers (with a poller of their own: one extraction
    process, a producer, a fetcher) and the maintenance loop, for as long as the block runs;
    None, and polling unaffected, when `NEWSWATCH_WEBSUB_PORT` is empty or its port taken."""
    if settings.websub_port is None:
        yield None
        return
    from ingest.common.es_client import make_es
    from ingest.fetch.http_fetch import FetchPolicy
    from ingest.poll.poll_run import open_poller

    es = make_es(settings)
    try:
        store = SubscriptionStore.from_settings(es, settings)
        store.ensure_index()
        one_process = settings.model_copy(update={"extract_processes": 1})
        with HubClient(FetchPolicy.from_settings(settings)) as hubs, \
                open_poller(one_process, es, clock=clock) as poller:
            service = WebSubService(
                store=store, policy=WebSubPolicy.from_settings(settings), hubs=hubs,
                poller=poller, feeds=ConfiguredFeeds(settings),
                callback_base=settings.websub_callback_base,
                queue_size=settings.websub_delivery_queue, clock=clock,
                feed_states=FeedStateStore.from_settings(es, settings))
            try:
                server = CallbackServer(service, bind=settings.websub_bind,
                                        port=settings.websub_port,
                                        max_body_bytes=settings.max_body_bytes).start()
            except OSError as exc:
                log.error("WebSub callback not started; feeds are polled only",
                          extra={"port": settings.websub_port, "error": str(exc)})
                yield None
                return
            service.start(settings.websub_check_s)
            log.info("WebSub callback listening", extra={
                "url": f"http://{settings.websub_bind}:{server.port}/websub/",
                "public_url": settings.websub_callback_base})
            try:
                yield service
            finally:
                server.stop()
                service.stop()
    finally:
        es.close()
