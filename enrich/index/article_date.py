"""The date an article is filed under: when it was published if the feed or the page said so,
else when newswatch first fetched it.

Why a field of its own: `published` stays empty when neither the feed entry nor the page gives
a date, and a time-based view (Kibana's data view, the dashboard, the map, `newswatch search
--since`) silently leaves such articles out. `published` keeps meaning "the source's own date"
(empty when unknown, `extraction.date_source` says where it came from); `published_or_fetched`
is always set and is what every time filter uses. Written in one place (the enricher), read by
the Kibana data view (its time field), `newswatch search --since` and `newswatch reprocess
--since`. Documents indexed before the field existed get it from `newswatch reprocess`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

ARTICLE_DATE_FIELD: Final = "published_or_fetched"


def article_date(article: Mapping[str, Any]) -> str:
    """`published` when known, else `fetched` (never empty: every article was fetched), from
    the article as serialised for Elasticsearch (ISO 8601 strings, as the message has them)."""
    published = article.get("published")
    return str(published) if published else str(article["fetched"])


def since_filter(since: date | datetime) -> dict[str, Any]:
    """The query clause for "articles dated on or after `since`", by the rule above."""
    return {"range": {ARTICLE_DATE_FIELD: {"gte": since.isoformat()}}}
