"""Dead letters: a record the worker cannot process goes to `news.dlq` with the error, the
original bytes and where it came from (topic/partition/offset), so nothing is lost and an
operator can inspect and replay it (`newswatch dlq list | replay`).

A letter written because of a Python exception also says which (`exception`, e.g.
`KeyError` or `enrich.tagging.tagger.TaggingError`) and where it was raised (`raised_at`,
`module:line` of the innermost frame), so a bug can be found from `dlq list` alone."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel


def exception_name(exc: BaseException) -> str:
    """`KeyError` for built-ins, `package.module.Name` for everything else."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def raised_at(exc: BaseException) -> str | None:
    """`module:line` where `exc` was raised: the innermost frame of its traceback (None for an
    exception that was never raised)."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__") or tb.tb_frame.f_code.co_filename
    return f"{module}:{tb.tb_lineno}"


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
    exception: str | None = None  # the exception's type, when one caused the letter
    raised_at: str | None = None  # module:line it was raised at

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
        exc: BaseException | None = None,
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
            exception=exception_name(exc) if exc is not None else None,
            raised_at=raised_at(exc) if exc is not None else None,
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
