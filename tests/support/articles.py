"""Synthetic Article messages for worker tests (the real message model, real bytes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.message.article import Article
from ingest.message.canonical_url import article_id, canonicalize_url

T0 = datetime(2024, 3, 1, tzinfo=UTC)


_WORDS = [
    "harbour", "committee", "moorings", "ferry", "timetable", "council", "budget", "lighthouse",
    "market", "fishermen", "festival", "tide", "pier", "warehouse", "crane", "cargo", "schedule",
    "museum", "school", "bridge", "tram", "repairs", "storm", "harvest", "vineyard", "orchard",
    "railway", "station", "library", "theatre", "concert", "choir", "regatta", "sailing",
]


def _distinct_text(n: int) -> str:
    """Prose that differs from every other n, so near-duplicate detection sees distinct stories."""
    words = [_WORDS[(n * 7 + i * (n % 13 + 1)) % len(_WORDS)] for i in range(60)]
    return f"Story {n}. " + " ".join(words) + "."


def make_article(n: int, *, title: str | None = None, text: str | None = None) -> Article:
    url = f"https://news.example/story/{n}"
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=canonicalize_url(url),
        feed="synthetic",
        domain="news.example",
        title=title or f"Story number {n} about the harbour",
        text=text or _distinct_text(n),
        published=T0 + timedelta(minutes=n),
        fetched=T0 + timedelta(minutes=n, seconds=30),
        language="en",
    )
