"""What every bench module shares: the Row it returns, the context it gets, and row builders.

A bench module is `bench/bench_<name>.py` with `def rows(ctx: BenchContext) -> list[Row]`.
Ratios are measured side by side in one run (the baseline and the contender on the same
inputs, interleaved), never against numbers remembered from another machine or day.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from infra.embedded_stack import StackEndpoints, free_port, stack_down, stack_up
from ingest.common.settings import Settings

# Functional form because one key, "pass", is a Python keyword. `target` is a comparison
# such as ">= 0.9", or None for a row that informs and judges nothing (then "pass" is None);
# `measured` is None when the measurement could not be taken.
Row = TypedDict(
    "Row",
    {
        "name": str,
        "unit": str,
        "target": str | None,
        "measured": float | None,
        "pass": bool | None,
    },
)


@dataclass(frozen=True)
class BenchContext:
    repo: Path  # the project root
    corpora: Path  # ../shared/corpora, read in place
    scratch: Path  # a temporary folder of this run, removed afterwards


def at_least(name: str, unit: str, target: float, measured: float | None) -> Row:
    return {"name": name, "unit": unit, "target": f">= {target:g}", "measured": measured,
            "pass": measured is not None and measured >= target}


def at_most(name: str, unit: str, target: float, measured: float | None) -> Row:
    return {"name": name, "unit": unit, "target": f"<= {target:g}", "measured": measured,
            "pass": measured is not None and measured <= target}


def info(name: str, unit: str, measured: float | None) -> Row:
    return {"name": name, "unit": unit, "target": None, "measured": measured, "pass": None}


def throughput(run: Callable[[], int]) -> float:
    """Items per second of one call of `run`, which returns how many items it processed."""
    started = time.perf_counter()
    items = run()
    elapsed = time.perf_counter() - started
    return items / elapsed if elapsed > 0 else float("inf")


@contextmanager
def private_stack(ctx: BenchContext, name: str = "stack") -> Iterator[StackEndpoints]:
    """An embedded Kafka + Elasticsearch of the bench module's own, on free ports, under the
    run's scratch folder, and taken down afterwards: every module meets an empty server (a
    server that keeps earlier modules' topics costs more CPU per record, see README)."""
    endpoints = StackEndpoints(ctx.scratch / name, "127.0.0.1", free_port(), "127.0.0.1",
                               free_port())
    stack_up(endpoints)
    try:
        yield endpoints
    finally:
        stack_down(endpoints)



def run_settings(endpoints: StackEndpoints, ctx: BenchContext, run: str,
                 config_dir: Path | None = None) -> Settings:
    """Settings of one bench run on `endpoints`, also put into os.environ so the worker and
    poller processes the bench starts read the same. Every topic starts with `run.` and every
    index and template with `run-`, so a run never meets another's data and can be deleted by
    name (bench_pipeline's `_forget`)."""
    os.environ.update({
        "NEWSWATCH_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "NEWSWATCH_ES_URL": endpoints.es_url,
        "NEWSWATCH_DATA_DIR": str(ctx.scratch / "data"),
        "NEWSWATCH_CONFIG_DIR": str(config_dir or ctx.repo / "config"),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",  # the bench's sites are on loopback
        "NEWSWATCH_ARTICLES_TOPIC": f"{run}.articles",
        "NEWSWATCH_ALERTS_TOPIC": f"{run}.alerts",
        "NEWSWATCH_DLQ_TOPIC": f"{run}.dlq",
        "NEWSWATCH_ARTICLES_ALIAS": f"{run}-articles",
        "NEWSWATCH_FEEDS_INDEX": f"{run}-feeds",
        "NEWSWATCH_ALERTS_INDEX": f"{run}-alerts",
        "NEWSWATCH_CONSUMER_GROUP": run,
        "NEWSWATCH_WORKER_INSTANCE": f"{run}-0",
        "NEWSWATCH_LOG_LEVEL": "WARNING",
    })
    return Settings(_env_file=None)  # type: ignore[call-arg]
