"""The delivery step: sends published alerts to their rules' channels, off the ingestion path.

One scheduler thread hands due (document, channel) pairs to a small pool of sender threads, so
a slow SMTP server delays nobody else. After each attempt the document's per-channel record
(status, attempts, last error, next attempt) is written back to the alerts index; a channel
that keeps failing is retried with doubling waits up to its `max_attempts`, then marked failed
and logged as an error — never retried forever, never blocking ingestion.

Ownership: each document names the worker that delivers it (`owner`) and until when
(`lease_until`, renewed by every attempt). On start, and every `resume_every_s`, the step reads
open deliveries from the index that are its own (a restart with the same instance id) or whose
owner's lease ran out (a worker that died), claims them with optimistic concurrency, and
carries on — so two workers never deliver the same alert, and a restart loses none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from enrich.alerts import metrics
from enrich.alerts.alert import Alert
from enrich.alerts.alert_store import AlertStore, AlertStoreUnavailable, Versioned, alert_from_doc
from enrich.alerts.channels import Channel, DeliveryRejected
from enrich.alerts.delivery_state import ChannelDelivery, Outcome, RetryPolicy, after_attempt
from enrich.alerts.notification import Notification, alert_notification, digest_notification
from ingest.common.freshness_metrics import observe_alert_delivered

log = logging.getLogger(__name__)


@dataclass
class DeliveryJob:
    """A deliverable document held in memory while any of its channels is open."""

    doc_id: str
    doc_type: Literal["alert", "digest"]
    rule: str
    deliveries: list[ChannelDelivery]
    alert: Alert | None = None  # alert documents
    digest: dict[str, Any] | None = None  # digest documents (window, severity)
    not_before: datetime | None = None  # a digest waits for its window to close
    due: dict[str, float] = field(default_factory=dict)  # channel -> monotonic time
    in_flight: set[str] = field(default_factory=set)
    unrecorded: bool = False  # the index missed the last record (it was down): write again
    # When the alert was recorded, right after its article was acknowledged by the index: the
    # start of "searchable -> alert delivered" (alert documents keep it as `indexed_at`).
    searchable_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def open(self) -> bool:
        return any(d.open for d in self.deliveries)

    @classmethod
    def from_doc(cls, source: dict[str, Any]) -> DeliveryJob:
        deliveries = [ChannelDelivery.model_validate(d) for d in source.get("deliveries") or []]
        not_before = source.get("not_before")
        if source.get("doc_type") == "digest":
            return cls(source["id"], "digest", source["rule"], deliveries, digest=source,
                       not_before=datetime.fromisoformat(not_before) if not_before else None)
        indexed_at = source.get("indexed_at")
        return cls(source["id"], "alert", source["rule"], deliveries,
                   alert=alert_from_doc(source),
                   searchable_at=datetime.fromisoformat(indexed_at) if indexed_at else None)


@dataclass
class DrainResult:
    complete: bool  # nothing left that a reachable channel could still take
    delivered: int
    # (document id, channel, last error) of deliveries still open: unreachable channels, or
    # digests whose window has not closed. They stay in the index and are resumed later.
    open: list[tuple[str, str, str | None]]


class Deliverer:
    def __init__(
        self,
        store: AlertStore,
        channels: Callable[[], dict[str, Channel]],
        *,
        owner: str,
        clock: Callable[[], datetime],
        policy: RetryPolicy | None = None,
        lease: timedelta = timedelta(minutes=10),
        senders: int = 4,
        resume_every_s: float = 60.0,
        tick_s: float = 1.0,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._channels = channels
        self.owner = owner
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._senders = senders
        self._resume_every_s = resume_every_s
        self._tick_s = tick_s
        self._on_tick = on_tick
        self._jobs: dict[str, DeliveryJob] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._next_resume = 0.0
        self.delivered = 0

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="alert-send")
        self._thread = threading.Thread(target=self._loop, name="alert-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop scheduling; attempts under way finish. Open deliveries stay in the index."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._cond:  # attempts cancelled before they began: due again after a start()
            for job in self._jobs.values():
                job.in_flight.clear()
        self._flush_unrecorded()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- feeding ----------------------------------------------------------------------------
    def submit(self, job: DeliveryJob) -> None:
        with self._cond:
            if job.doc_id not in self._jobs and job.open:
                self._jobs[job.doc_id] = job
                self._update_gauge()
            self._cond.notify_all()

    def lease_until(self, not_before: datetime | None = None) -> datetime:
        start = max(self._clock(), not_before) if not_before else self._clock()
        return start + self._lease

    def resume(self) -> int:
        """Take over open deliveries from the index (ours, or orphaned); return how many."""
        taken = 0
        for found in self._store.pending(self.owner, self._clock()):
            doc_id = found.source["id"]
            with self._cond:
                if doc_id in self._jobs:
                    continue
            if not self._claim(found):
                continue
            job = DeliveryJob.from_doc(found.source)
            if job.open:
                self.submit(job)
                taken += 1
        if taken:
            log.info("resumed open alert deliveries", extra={"documents": taken})
        return taken

    def _claim(self, found: Versioned) -> bool:
        not_before = found.source.get("not_before")
        until = self.lease_until(datetime.fromisoformat(not_before) if not_before else None)
        return self._store.claim(found, self.owner, until)

    # --- the scheduler ----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._housekeeping()
                self._dispatch_due()
            except Exception:  # the delivery step must outlive any one bad document
                log.exception("alert delivery step error")
            with self._cond:
                if not self._stop.is_set():
                    self._cond.wait(self._wait_s())

    def _housekeeping(self) -> None:
        if self._on_tick is not None:
            self._on_tick()
        if time.monotonic() >= self._next_resume:
            self._next_resume = time.monotonic() + self._resume_every_s
            try:
                self.resume()
            except AlertStoreUnavailable as exc:
                log.warning("cannot read open deliveries", extra={"error": str(exc)})
        self._flush_unrecorded()

    def _ready(self, job: DeliveryJob, delivery: ChannelDelivery, now_mono: float,
               now: datetime) -> bool:
        if not delivery.open or delivery.channel in job.in_flight:
            return False
        if job.not_before is not None and now < job.not_before:
            return False
        return job.due.get(delivery.channel, 0.0) <= now_mono

    def _dispatch_due(self) -> None:
        now_mono, now = time.monotonic(), self._clock()
        with self._cond:
            due = [
                (job, d.channel)
                for job in self._jobs.values()
                for d in job.deliveries
                if self._ready(job, d, now_mono, now)
            ]
            for job, channel in due:
                job.in_flight.add(channel)
        for job, channel in due:
            assert self._pool is not None
            self._pool.submit(self._attempt, job, channel)

    def _wait_s(self) -> float:
        now_mono = time.monotonic()
        soonest = self._tick_s
        for job in self._jobs.values():
            if job.not_before is not None:
                continue  # digests: checked every tick
            for d in job.deliveries:
                if d.open and d.channel not in job.in_flight:
                    soonest = min(soonest, job.due.get(d.channel, 0.0) - now_mono)
        return max(0.01, soonest)

    # --- one attempt ------------------------------------------------------------------------
    def _notification(self, job: DeliveryJob) -> Notification:
        if job.alert is not None:
            return alert_notification(job.alert)
        assert job.digest is not None
        digest = job.digest
        return digest_notification(
            job.doc_id, job.rule, digest.get("severity", "medium"),
            datetime.fromisoformat(digest["window_start"]),
            datetime.fromisoformat(digest["window_end"]),
            self._store.digest_members(job.doc_id),
        )

    def _attempt(self, job: DeliveryJob, channel_name: str) -> None:
        channel = self._channels().get(channel_name)
        error: str | None = None
        outcome: Outcome = "delivered"
        try:
            if channel is None:
                raise DeliveryRejected(f"channel {channel_name!r} is no longer configured")
            channel.send(self._notification(job))
        except DeliveryRejected as exc:
            outcome, error = "rejected", str(exc)
        except Exception as exc:  # DeliveryFailed, the index down while building a digest, …
            outcome, error = "retry", str(exc) or type(exc).__name__
        max_attempts = channel.config.max_attempts if channel is not None else 1
        with self._cond:
            index = next(i for i, d in enumerate(job.deliveries) if d.channel == channel_name)
            updated = after_attempt(job.deliveries[index], outcome, now=self._clock(),
                                    error=error, max_attempts=max_attempts, policy=self._policy)
            job.deliveries[index] = updated
            if updated.status == "retrying":
                job.due[channel_name] = time.monotonic() + self._policy.delay(updated.attempts)
        self._report(job, updated)
        self._record(job)
        # Still "in flight" until recorded, so drain() returns only once the index knows.
        with self._cond:
            job.in_flight.discard(channel_name)
            self._settle(job)
            self._cond.notify_all()

    def _report(self, job: DeliveryJob, delivery: ChannelDelivery) -> None:
        context = {"alert": job.doc_id, "rule": job.rule, "channel": delivery.channel,
                   "attempts": delivery.attempts, "error": delivery.last_error}
        if delivery.status == "delivered":
            self.delivered += 1
            metrics.DELIVERIES.labels(delivery.channel, "delivered").inc()
            if job.searchable_at is not None and delivery.delivered_at is not None:
                observe_alert_delivered(job.searchable_at, delivery.delivered_at)
            log.info("alert delivered", extra=context)
        elif delivery.status == "retrying":
            metrics.DELIVERIES.labels(delivery.channel, "retry").inc()
            log.warning("alert delivery failed, will retry",
                        extra={**context, "next_attempt_at": str(delivery.next_attempt_at)})
        else:
            metrics.DELIVERIES.labels(delivery.channel, "failed").inc()
            log.error("alert delivery failed for good: channel unreachable or refusing",
                      extra=context)

    def _record(self, job: DeliveryJob) -> None:
        with job.lock:
            with self._cond:
                fields = {
                    "deliveries": [d.model_dump(mode="json") for d in job.deliveries],
                    "delivery_pending": job.open,
                    "owner": self.owner,
                    "lease_until": self.lease_until(job.not_before).isoformat(),
                }
                if job.doc_type == "digest" and not job.open:
                    fields["status"] = "sent"
            try:
                self._store.update(job.doc_id, fields)
                job.unrecorded = False
            except Exception as exc:
                job.unrecorded = True
                log.warning("delivery outcome not recorded yet (index unavailable)",
                            extra={"alert": job.doc_id, "error": str(exc)})

    def _settle(self, job: DeliveryJob) -> None:
        """Forget a job that is done and recorded (call with the condition held)."""
        if not job.open and not job.unrecorded and not job.in_flight:
            self._jobs.pop(job.doc_id, None)
        self._update_gauge()

    def _flush_unrecorded(self) -> None:
        with self._cond:
            waiting = [job for job in self._jobs.values() if job.unrecorded]
        for job in waiting:
            self._record(job)
            with self._cond:
                self._settle(job)

    def _update_gauge(self) -> None:
        metrics.DELIVERIES_OPEN.set(
            sum(1 for job in self._jobs.values() for d in job.deliveries if d.open)
        )

    # --- draining ---------------------------------------------------------------------------
    def _blocking(self, now: datetime) -> list[tuple[DeliveryJob, ChannelDelivery]]:
        """Open deliveries a reachable channel could still take now: in flight, or not tried
        yet. One that already failed waits for its retry outside the drain."""
        return [
            (job, d)
            for job in self._jobs.values()
            for d in job.deliveries
            if d.channel in job.in_flight
            or (d.open and d.attempts == 0
                and (job.not_before is None or job.not_before <= now))
        ]

    def drain(self, timeout_s: float) -> DrainResult:
        if not self.running:
            self.start()
        delivered_before = self.delivered
        deadline = time.monotonic() + timeout_s
        self.wake()
        with self._cond:
            while self._blocking(self._clock()) or any(j.unrecorded for j in self._jobs.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.2))
            complete = not self._blocking(self._clock())
            still_open = [
                (job.doc_id, d.channel, d.last_error)
                for job in self._jobs.values()
                for d in job.deliveries
                if d.open
            ]
        if still_open:
            log.warning("alert deliveries still open (unreachable channels or digest windows); "
                        "they stay in the index and resume later",
                        extra={"open": len(still_open),
                               "channels": sorted({c for _, c, _ in still_open})})
        return DrainResult(complete, self.delivered - delivered_before, still_open)
