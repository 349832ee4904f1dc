"""`feeds.yaml`: the feeds ops want polled. `feeds: [{name, url}, ...]` is the contract."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from ingest.yaml_config import load_yaml_model


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


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> FeedsFile:
        seen: set[str] = set()
        for feed in self.feeds:
            if feed.name in seen:
                raise ValueError(f"feed name {feed.name!r} is used twice")
            seen.add(feed.name)
        return self


def load_feeds(path: Path) -> FeedsFile:
    return load_yaml_model(path, FeedsFile)
