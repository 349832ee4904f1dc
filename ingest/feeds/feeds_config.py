"""`feeds.yaml`: the feeds ops want polled. `feeds: [{name, url}, ...]` is the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from ingest.common.language_codes import check_language_code
from ingest.common.yaml_config import LocatedValueError, load_yaml_model


def feed_url_key(url: str) -> tuple[str, int | None, str, str]:
    """Two URLs name the same feed when host, port, path and query agree (scheme aside).
    Not the article canonicaliser: it drops `?feed=`/`?rss=`, which identify feeds."""
    parts = urlsplit(url.strip())
    port = parts.port if parts.port not in (80, 443) else None
    return (parts.hostname or "").lower().rstrip("."), port, parts.path or "/", parts.query


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.\- ]+$")
    url: HttpUrl
    language: str | None = Field(default=None, description="ISO 639-1 hint for the feed's items")
    region: str | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("only http and https feeds are polled")
        return value

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        return None if value is None else check_language_code(value)


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _feeds_key_present(cls, data: Any) -> Any:
        """An empty or truncated file would turn every feed into an orphan: say so instead.
        `feeds: []` (or a bare `feeds:`) is how to mean "no feeds"."""
        if isinstance(data, dict):
            if "feeds" not in data:
                raise ValueError("no `feeds:` list (an empty or truncated file?); write "
                                 "`feeds: []` to poll nothing")
            if data["feeds"] is None:
                return {**data, "feeds": []}
        return data

    @field_validator("feeds")
    @classmethod
    def _unique(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        """A name or URL used twice is refused at the second one's own line."""
        names: dict[str, int] = {}
        urls: dict[tuple[str, int | None, str, str], int] = {}
        for index, feed in enumerate(feeds):
            if feed.name in names:
                raise LocatedValueError(
                    (index, "name"),
                    f"feed name {feed.name!r} is used twice (first by feeds[{names[feed.name]}])")
            names[feed.name] = index
            key = feed_url_key(str(feed.url))
            if key in urls:
                first = feeds[urls[key]].name
                raise LocatedValueError(
                    (index, "url"), f"{feed.url} is already the URL of feed {first!r}")
            urls[key] = index
        return feeds


def load_feeds(path: Path) -> FeedsFile:
    return load_yaml_model(path, FeedsFile)
