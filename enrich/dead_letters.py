"""Dead letters: a record the worker cannot process goes to `news.dlq` with the error, the
original bytes and where it came from (topic/partition/offset), so nothing is lost and an
operator can inspect and replay it (`newswatch dlq list | replay`)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel


class DeadLetter(BaseModel):
    error_kind: str  # invalid_json | invalid_schema | unsupported_schema | rejected_by_index | ...
    error: str
    topic: str
    partition: int
    offset: int
    key_b64: str | None
    value_b64: str
    failed_at: datetime
    attempts: int = 1
    worker: str | None = None

    @classmethod
    def of(
        cls,
        *,
        kind: str,
        error: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        attempts: int = 1,
        worker: str | None = None,
    ) -> DeadLetter:
        return cls(
            error_kind=kind,
            error=error[:4000],
            topic=topic,
            partition=partition,
            offset=offset,
            key_b64=base64.b64encode(key).decode() if key is not None else None,
            value_b64=base64.b64encode(value or b"").decode(),
            failed_at=datetime.now(UTC),
            attempts=attempts,
            worker=worker,
        )

    @property
    def key(self) -> bytes | None:
        return base64.b64decode(self.key_b64) if self.key_b64 is not None else None

    @property
    def value(self) -> bytes:
        return base64.b64decode(self.value_b64)

    @property
    def dlq_key(self) -> bytes:
        """Kafka key of the dead letter: its origin, so a retried batch overwrites on compaction."""
        return f"{self.topic}/{self.partition}/{self.offset}".encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class ReplayReceipt(BaseModel):
    """Written to `Settings.dlq_replays_topic` once a letter's replay was acknowledged, keyed by
    the letter's place in the DLQ, so `dlq list` and `dlq replay` can leave it out next time."""

    dlq_partition: int
    dlq_offset: int
    replayed_at: datetime
    to_topic: str

    @property
    def letter_key(self) -> bytes:
        return f"{self.dlq_partition}/{self.dlq_offset}".encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")
