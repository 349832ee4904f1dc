"""The poll-feeds flow: one coarse task per run (STACK-NOTES: a Prefect task per page costs
5-8x throughput), the run itself fans out over threads and an extraction process pool."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.schedules import Interval

from ingest.common.settings import Settings
from ingest.poll.poll_run import default_runner_id, poll_due

log = logging.getLogger(__name__)


@task(name="poll-configured-feeds", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=30)
def poll_configured_feeds() -> dict[str, Any]:
    report = poll_due(Settings(), default_runner_id())
    summary = report.summary()
    logger = get_run_logger()
    for failed in report.failed_feeds:
        logger.warning("feed %s failed: %s %s", failed.feed, failed.error_kind, failed.error)
    logger.info("poll summary: %s", summary)
    return summary


@flow(name="poll-feeds", log_prints=True)
def poll_feeds() -> dict[str, Any]:
    """Idempotent: a run killed half-way (serve kills runs on SIGTERM) is simply redone."""
    return poll_configured_feeds()


DEPLOYMENT = "poll-feeds/poll-feeds"


def _kick_off_first_run(timeout_s: float = 120) -> None:
    """A service that was just started polls at once, then every interval.

    An interval schedule only creates runs for slots still ahead when the server's scheduler
    next looks, so a slot "now" is easily missed; one explicit run right after registration
    is not.
    """
    from prefect.deployments import run_deployment

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            run_deployment(DEPLOYMENT, timeout=0, flow_run_name="poll-feeds-at-start")
            return
        except Exception as exc:  # not registered yet: serve() is starting
            log.debug("deployment not ready", extra={"error": str(exc)})
            time.sleep(1)
    log.error("first poll run could not be created", extra={"deployment": DEPLOYMENT})


def serve_poll_feeds(settings: Settings) -> None:
    """Register the interval deployment with the Prefect server and run its scheduled runs;
    the first run starts at once, the next ones a tick apart. Each run polls only the feeds
    that are due (each feed keeps its own adaptive interval) under leases, so several serve
    processes or hosts can run this deployment at once."""
    interval = timedelta(seconds=settings.poll_tick_s)
    threading.Thread(target=_kick_off_first_run, name="first-poll", daemon=True).start()
    poll_feeds.serve(
        name="poll-feeds",
        schedule=Interval(interval, anchor_date=datetime.now(UTC) + interval),
        description="Poll every configured feed, extract new articles, produce them to Kafka.",
        tags=["newswatch", "ingest"],
        limit=1,
    )
