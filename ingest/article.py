"""The Article message on `news.articles`: the contract between ingest and enrich.

Versioned JSON, UTF-8. Enrich refuses a `schema_version` it does not know (it goes to the
dead-letter topic) rather than guessing at fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

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

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Article:
        return cls.model_validate_json(raw)


def utcnow() -> datetime:
    return datetime.now(UTC)
