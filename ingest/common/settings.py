"""One settings model for every newswatch process.

Everything comes from the environment or `.env` with the `NEWSWATCH_` prefix, read when a
process starts (never at import time), so tests and the embedded stack can point the same code
at other servers by setting variables only.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.common.es_values import check_age, check_size


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- servers -------------------------------------------------------------------------
    kafka_bootstrap: str = "127.0.0.1:9092"
    es_url: str = "http://127.0.0.1:9200"
    prefect_port: int = 4200

    # --- files ---------------------------------------------------------------------------
    data_dir: Path = Path("./.newswatch")
    config_dir: Path = Path("./config")

    # --- Kafka topics --------------------------------------------------------------------
    articles_topic: str = "news.articles"
    alerts_topic: str = "news.alerts"
    dlq_topic: str = "news.dlq"
    articles_partitions: int = Field(default=6, ge=1)
    # retention.ms per topic (-1: forever), set when newswatch creates a topic and only ever
    # lengthened on an existing one (ingest/common/topic_retention.py). Dead letters are kept for
    # good;
    # a replay is receipted in news.dlq.replays (enrich/dlq/dead_letter_admin.py).
    articles_retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    alerts_retention_ms: int = Field(default=30 * 24 * 3600 * 1000, ge=-1)
    dlq_retention_ms: int = Field(default=-1, ge=-1)
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = "newswatch-enrich"
    # Stable per worker (static membership): a restarted worker takes its partitions back.
    worker_instance: str | None = None

    # --- Elasticsearch -------------------------------------------------------------------
    articles_alias: str = "newswatch-articles"
    alerts_index: str = "newswatch-alerts"
    feeds_index: str = "newswatch-feeds"
    es_shards: int = Field(default=1, ge=1)
    es_replicas: int = Field(default=0, ge=0)
    es_timeout_s: float = 30.0
    # The articles alias rolls over to a new backing index when the current one reaches any of
    # these (enrich/index/index_rollover.py); an empty value switches that condition off.
    articles_rollover_max_age: str | None = "30d"
    articles_rollover_max_primary_shard_size: str | None = "50gb"
    articles_rollover_max_docs: int | None = Field(default=None, ge=1)
    # How often each worker asks (Elasticsearch decides; at most one request rolls over).
    articles_rollover_check_s: float = Field(default=600, ge=1)
    # How far back a copy finds the story it copies (older band pointers are deleted), and how
    # often each worker deletes the expired ones.
    dedup_window_days: float = Field(default=30, gt=0)
    dedup_expiry_check_s: float = Field(default=3600, ge=1)

    # --- worker --------------------------------------------------------------------------
    worker_batch_size: int = Field(default=200, ge=1)
    # A batch closes at worker_batch_size records or this long after its first record, and an
    # idle worker looks for records this often (enrich/worker/record_batcher.py: what it costs).
    worker_linger_ms: int = Field(default=250, ge=1, le=60000)
    worker_session_timeout_ms: int = Field(default=10000, ge=1000)
    # Attempts before an item Elasticsearch keeps refusing with 429/5xx is dead-lettered.
    worker_item_retries: int = Field(default=5, ge=0)
    # Retries of a record whose enrichment raised an unexpected error, before its dead letter.
    worker_record_retries: int = Field(default=2, ge=0)
    # Longest pause between tries while Elasticsearch is down as a whole.
    worker_max_backoff_s: float = Field(default=30.0, gt=0)

    # --- ingest --------------------------------------------------------------------------
    allow_private_networks: bool = False
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    contact_url: str = "https://github.com/newswatch/newswatch"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_redirects: int = Field(default=5, ge=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_entries_per_feed: int = Field(default=200, ge=1)
    # Interval of a feed with no publishing history yet; then each feed's own adapts.
    poll_interval_s: int = Field(default=900, ge=10)
    poll_min_interval_s: int = Field(default=300, ge=10)
    poll_max_interval_s: int = Field(default=21600, ge=60)
    # Poll every publish_factor x the feed's mean gap between entries.
    poll_publish_factor: float = Field(default=0.5, gt=0)
    poll_lease_s: float = Field(default=900, ge=30)
    # How often the scheduled flow looks for due feeds.
    poll_tick_s: int = Field(default=60, ge=10)
    feed_block_after: int = Field(default=5, ge=1)
    feed_max_backoff_s: int = Field(default=21600, ge=60)
    feed_probe_interval_s: int = Field(default=86400, ge=60)
    poll_concurrency: int = Field(default=16, ge=1)
    per_host_concurrency: int = Field(default=2, ge=1)
    per_host_delay_s: float = Field(default=0.0, ge=0)
    extract_processes: int = Field(default=2, ge=1)

    # --- WebSub (push instead of poll, ingest/websub_*.py) -------------------------------
    # The callback listens on this port in the poll service (`newswatch serve`); empty: off.
    websub_port: int | None = Field(default=8090, ge=0, le=65535)
    websub_bind: str = "127.0.0.1"
    # The base URL hubs reach the callback at (a reverse proxy's, say). Unset: nothing is
    # subscribed (a hub could not verify a loopback callback); discovery is still recorded.
    websub_public_url: str | None = None
    websub_lease_s: int = Field(default=10 * 86400, ge=60)  # asked for; the hub decides
    websub_poll_interval_s: int = Field(default=6 * 3600, ge=60)  # pushed feeds still polled
    websub_verify_timeout_s: float = Field(default=300, gt=0)
    websub_retry_s: float = Field(default=3600, gt=0)
    websub_denied_retry_s: float = Field(default=7 * 86400, gt=0)
    websub_check_s: float = Field(default=30, gt=0)  # maintenance: requests, renewals, expiry
    websub_delivery_queue: int = Field(default=64, ge=1)  # bodies waiting; beyond: 503

    # --- observability -------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    metrics_port: int | None = None

    @field_validator("articles_rollover_max_age", "articles_rollover_max_primary_shard_size",
                     "articles_rollover_max_docs", "websub_port", "websub_public_url",
                     mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("articles_rollover_max_age")
    @classmethod
    def _rollover_age(cls, value: str | None) -> str | None:
        return None if value is None else check_age(value)

    @field_validator("articles_rollover_max_primary_shard_size")
    @classmethod
    def _rollover_size(cls, value: str | None) -> str | None:
        return None if value is None else check_size(value)

    @field_validator("articles_retention_ms", "alerts_retention_ms", "dlq_retention_ms")
    @classmethod
    def _retention_keeps_something(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 would delete every record at once: give milliseconds, or -1 "
                             "to keep them forever")
        return value

    @model_validator(mode="after")
    def _intervals_in_order(self) -> Settings:
        if not (self.poll_min_interval_s <= self.poll_interval_s <= self.poll_max_interval_s):
            raise ValueError(
                "need NEWSWATCH_POLL_MIN_INTERVAL_S <= NEWSWATCH_POLL_INTERVAL_S <= "
                f"NEWSWATCH_POLL_MAX_INTERVAL_S, got {self.poll_min_interval_s}, "
                f"{self.poll_interval_s}, {self.poll_max_interval_s}"
            )
        return self

    @property
    def feeds_file(self) -> Path:
        return self.config_dir / "feeds.yaml"

    @property
    def topics_file(self) -> Path:
        return self.config_dir / "topics.yaml"

    @property
    def alerts_file(self) -> Path:
        return self.config_dir / "alerts.yaml"

    @property
    def dlq_replays_topic(self) -> str:
        """Which dead letters were replayed, when and where to (compacted: one per letter)."""
        return f"{self.dlq_topic}.replays"

    @property
    def seen_index(self) -> str:
        """Entries already produced, by article id: survives restarts, shared by runners."""
        return f"{self.feeds_index}-seen"

    @property
    def websub_index(self) -> str:
        """WebSub subscriptions, one per feed (ingest/websub/websub_state.py)."""
        return f"{self.feeds_index}-websub"

    @property
    def websub_callback_base(self) -> str | None:
        """Where hubs reach the callback, without a trailing slash (None: not configured)."""
        return self.websub_public_url.rstrip("/") if self.websub_public_url else None

    @property
    def drift_index(self) -> str:
        """Extraction drift per domain (a site that changed its template)."""
        return f"{self.feeds_index}-drift"

    @property
    def dedup_index(self) -> str:
        """Near-duplicate band pointers (band key -> first article with it), looked up by id.
        A sibling of the alias, not under it: `{alias}-*` is the articles' own pattern."""
        return f"{self.articles_alias}.dedup-bands"

    @property
    def stack_dir(self) -> Path:
        return self.data_dir / "stack"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def es_host_port(self) -> tuple[str, int]:
        from urllib.parse import urlsplit

        parts = urlsplit(self.es_url)
        return parts.hostname or "127.0.0.1", parts.port or 9200
