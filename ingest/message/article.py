"""The Article message on `news.articles`: the contract between ingest and enrich.

Versioned JSON, UTF-8. Enrich refuses a `schema_version` it does not know (it goes to the
dead-letter topic) rather than guessing at fields. Fields added since version 1 are optional
with a default (`timings`), so a message from an older producer is still read as version 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION: Final = 1


class ExtractionInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Where the body text came from: the page through trafilatura, or the feed entry itself
    # when the page could not be fetched or extraction returned almost nothing.
    source: Literal["page", "feed_entry"] = "page"
    extractor: str = "trafilatura"
    extractor_version: str | None = None
    text_chars: int = 0
    # Which date won: the feed entry's own date is preferred over the extractor's guess.
    date_source: Literal["feed", "page", "none"] = "none"
    error: str | None = None
    duration_ms: float | None = None


TIMING_KEYS: Final = (
    "published", "discovered", "fetched", "extracted", "produced", "consumed", "indexed",
)


class Timings(BaseModel):
    """When each stage handled the article (ISO 8601 UTC): the contract behind freshness.

    * published  -- the feed's date for the entry (else the page's), as `Article.published`;
    * discovered -- the poll received the feed body that listed the entry;
    * fetched    -- the article page's response was read (none when no page was fetched);
    * extracted  -- extraction returned, or the feed entry's text was taken instead;
    * produced   -- the message was handed to the Kafka producer (stamped before the send,
                    since it travels in the message; the ack comes a few ms later);
    * consumed   -- a worker decoded the record;
    * indexed    -- the worker built the bulk request holding the document (stamped before
                    it is sent: Elasticsearch acknowledges it, and search sees it after the
                    next refresh, up to `refresh_interval` (1 s) later).
    Each stage stamps only its own key; a key stays null when that stage did not happen.
    """

    model_config = ConfigDict(extra="ignore")

    published: datetime | None = None
    discovered: datetime | None = None
    fetched: datetime | None = None
    extracted: datetime | None = None
    produced: datetime | None = None
    consumed: datetime | None = None
    indexed: datetime | None = None

    @field_validator(*TIMING_KEYS)
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Stored and compared in UTC; a naive time is taken as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Article(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=8)
    url: str
    canonical_url: str
    feed: str
    feed_url: str | None = None
    domain: str
    title: str = ""
    text: str = ""
    summary: str | None = None
    author: str | None = None
    published: datetime | None = None
    fetched: datetime
    language: str | None = None
    extraction: ExtractionInfo = Field(default_factory=ExtractionInfo)
    # Absent from messages of older producers: then every stage before the worker is unknown.
    timings: Timings = Field(default_factory=Timings)

    @model_validator(mode="after")
    def _published_timing(self) -> Article:
        """`timings.published` is `published` (a message from an older producer has only
        the latter)."""
        if self.timings.published is None and self.published is not None:
            self.timings.published = Timings.model_validate(
                {"published": self.published}).published
        return self

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Article:
        return cls.model_validate_json(raw)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC, written the way the message's own fields are (`...Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
