"""An idle worker idles (issue 16): against the embedded server, which answers empty fetches
at once, a worker blocked in `consumer.poll(timeout_ms=1000)` sent ~500 fetch requests a
second and used 60–85% of a core with nothing to consume. Counted here by what the worker
does, not by how fast: the fetch requests its consumer sends and the CPU time of its threads
over a few idle seconds, with bounds ten times above what a bounded loop needs (~4 fetches/s,
~3% of a core; `make bench` has the 30-second figure) and far below the busy loop's."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from enrich.worker.enricher import Enricher
from enrich.worker.loop import (
    EnrichWorker,
    WorkerStats,
    leave_group,
    make_consumer,
    make_side_producer,
)
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.support.articles import make_article
from tests.support.kafka_tools import produce_articles

pytestmark = pytest.mark.integration

IDLE_S = 4.0
MAX_FETCHES_PER_S = 40
MAX_CPU_SHARE = 0.30


class _FetchCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.fetches = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Sending FetchRequest"):
            self.fetches += 1


def _thread_cpu_s(native_ids: set[int]) -> float:
    """CPU seconds (user + system) of these threads of this process, from /proc."""
    ticks = 0
    for tid in native_ids:
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def test_an_idle_worker_neither_spins_on_fetches_nor_burns_cpu(settings: Settings) -> None:
    ensure_topics(settings)
    first = make_article(1)
    produce_articles(settings, [first])
    before = {t.native_id for t in threading.enumerate()}
    instance = settings.worker_instance or "idle-0"
    worker = EnrichWorker(settings, consumer=make_consumer(settings, instance),
                          producer=make_side_producer(settings), es=make_es(settings),
                          enricher=Enricher.from_settings(settings), instance_id=instance)
    results: list[WorkerStats] = []
    thread = threading.Thread(target=lambda: results.append(worker.run()), name="idle-worker")
    thread.start()
    counter = _FetchCounter()
    fetcher_log = logging.getLogger("kafka.consumer.fetcher")
    level = fetcher_log.level
    try:
        deadline = time.monotonic() + 60
        while worker.stats.indexed < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.stats.indexed == 1, "the worker never got going"
        ours = {t.native_id for t in threading.enumerate() if t.native_id is not None} - before
        fetcher_log.addHandler(counter)
        fetcher_log.setLevel(logging.DEBUG)
        cpu_before, started = _thread_cpu_s(ours), time.monotonic()
        time.sleep(IDLE_S)
        cpu = _thread_cpu_s(ours) - cpu_before
        elapsed = time.monotonic() - started
    finally:
        fetcher_log.removeHandler(counter)
        fetcher_log.setLevel(level)
        worker.stop()
        thread.join(timeout=30)
        worker.consumer.close(autocommit=False)
        leave_group(settings, instance)
        worker.producer.close()
        worker.es.close()
    assert not thread.is_alive()
    assert counter.fetches > 0, "no fetch at all: the worker stopped looking for records"
    assert counter.fetches / elapsed < MAX_FETCHES_PER_S, f"{counter.fetches} fetches"
    assert cpu / elapsed < MAX_CPU_SHARE, f"{cpu:.2f} s of CPU in {elapsed:.1f} s idle"
