"""The poll-feeds flow: one coarse task per run (STACK-NOTES: a Prefect task per page costs
5-8x throughput), the run itself fans out over threads and an extraction process pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.schedules import Interval

from ingest.poll_run import poll_once
from ingest.settings import Settings


@task(name="poll-configured-feeds", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=30)
def poll_configured_feeds() -> dict[str, Any]:
    report = poll_once(Settings())
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


def serve_poll_feeds(settings: Settings) -> None:
    """Register the interval deployment with the Prefect server and run its scheduled runs.

    The schedule is anchored a few seconds from now: a service that was just started polls at
    once instead of waiting for the next slot of a default anchor up to an interval away.
    """
    anchor = datetime.now(UTC) + timedelta(seconds=5)
    poll_feeds.serve(
        name="poll-feeds",
        schedule=Interval(timedelta(seconds=settings.poll_interval_s), anchor_date=anchor),
        description="Poll every configured feed, extract new articles, produce them to Kafka.",
        tags=["newswatch", "ingest"],
        limit=1,
    )
