"""Recall and precision of dictionary-form queries per language, on labelled real news items.

Why: an analyst types a place in its dictionary form (Сирия, Suriye, إدلب) and expects every
article holding the word in any inflected, prefixed or suffixed form. Each query below comes
with a hand-written pattern of the forms that count (written from the language's grammar, not
from the analyzers), applied to the indexed title and text. An item is relevant to a query when
the pattern occurs in it; recall is the share of relevant items the search returns, precision
the share of returned items that are relevant. A query in language L is scored on the items
labelled L (a Persian query finding the same name in an Arabic item counts neither way).
Counts are pooled per query language.

Run: `python -m enrich.search.search_eval [--items PATH]` against `NEWSWATCH_ES_URL`; it indexes the
items through the worker's enrichment into a scratch alias, searches, prints a table, and
deletes the scratch indices.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from enrich.index.article_index import ArticleIndex
from enrich.search.search import search_articles
from enrich.worker.enricher import Enricher
from ingest.message.article import Article
from ingest.message.canonical_url import article_id, canonicalize_url

_AR_CLITICS = r"(?:[وفبلك]|ال)*"
_NOT_WORD_BEFORE = r"(?<!\w)"
_NOT_WORD_AFTER = r"(?!\w)"
_APOSTROPHE_SUFFIX = r"(?:['’]\w+)?"


def _ar(stem: str) -> str:
    return f"{_NOT_WORD_BEFORE}{_AR_CLITICS}{stem}{_NOT_WORD_AFTER}"


def _fa(stem: str) -> str:
    return f"{_NOT_WORD_BEFORE}{stem}(?:\u200c?(?:ها|های|هایی|ی|ای))?{_NOT_WORD_AFTER}"


def _tr(stem: str, *, suffixes: bool = True) -> str:
    # Turkish: case endings of proper nouns after an apostrophe, derivations (-li, -ye) glued on.
    tail = r"(?:['’]\w+|\w*)" if suffixes else _APOSTROPHE_SUFFIX
    return rf"\b{stem}{tail}{_NOT_WORD_AFTER}"


def _words(*forms: str) -> str:
    return rf"\b(?:{'|'.join(forms)}){_NOT_WORD_AFTER}"


# query language -> [(dictionary form typed by the analyst, pattern of the forms that count)]
QUERIES: dict[str, list[tuple[str, str]]] = {
    "en": [("Syria", _words("syria", "syria['’]s")), ("Iran", _words("iran", "iran['’]s")),
           ("Idlib", _words("idlib", "idlib['’]s")), ("Damascus", _words("damascus")),
           ("Aleppo", _words("aleppo")), ("Tehran", _words("tehran")),
           ("Turkey", _words("turkey", "turkey['’]s")),
           ("Russia", _words("russia", "russia['’]s"))],
    "ar": [("سوريا", _ar("سوريا")), ("إدلب", _ar("[اإ]دلب")), ("إيران", _ar("[اإ]يران")),
           ("دمشق", _ar("دمشق")), ("حلب", _ar("حلب")), ("طهران", _ar("طهران")),
           ("تركيا", _ar("تركيا")), ("روسيا", _ar("روسيا"))],
    "fa": [("ایران", _fa("ایران")), ("سوریه", _fa("سوریه")), ("تهران", _fa("تهران")),
           ("ادلب", _fa("ادلب")), ("ترکیه", _fa("ترکیه")), ("روسیه", _fa("روسیه"))],
    "tr": [("Suriye", _tr("suriye")), ("İran", _tr("iran")), ("İdlib", _tr("idlib")),
           ("Şam", _tr("şam", suffixes=False)), ("Halep", _tr("halep")),
           ("Türkiye", _tr("türkiye")), ("Rusya", _tr("rusya")), ("Esad", _tr("esad"))],
    "ru": [("Сирия", _words("сири[яиюе]", "сирией", "сириею")),
           ("Иран", _words("иран", "ирана", "ирану", "ираном", "иране")),
           ("Идлиб", _words("идлиб", "идлиба", "идлибу", "идлибом", "идлибе")),
           ("Россия", _words("росси[яиюе]", "россией")),
           ("Турция", _words("турци[яиюе]", "турцией")),
           ("Москва", _words("москв[аыеу]", "москвой")),
           ("Дамаск", _words("дамаск", "дамаска", "дамаску", "дамаском", "дамаске"))],
    "fr": [("Syrie", _words("syrie")), ("Iran", _words("iran")), ("Russie", _words("russie")),
           ("Turquie", _words("turquie")), ("France", _words("france"))],
    "de": [("Syrien", _words("syrien", "syriens")), ("Iran", _words("iran", "irans")),
           ("Russland", _words("russland", "russlands")), ("Türkei", _words("türkei"))],
}


_LETTER_VARIANTS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي",
                                   "ک": "ك", "ة": "ه", "ۀ": "ه", "ـ": None})


def fold_for_patterns(text: str) -> str:
    """Text and patterns are compared in one spelling: lower case without Turkish dotted/
    dotless-i distinctions, and one letter for each Arabic/Persian variant (Persian ی and
    Arabic ي are the same letter, سورية and سوریه the same word), without short vowels.
    Apostrophes stay: they mark Turkish suffixes."""
    text = text.replace("İ", "i").replace("I", "i").replace("ı", "i").lower()
    text = re.sub("[\u064b-\u0652\u0670]", "", text)
    return unicodedata.normalize("NFC", text).translate(_LETTER_VARIANTS)


def relevant(pattern: str, title: str, text: str) -> bool:
    return re.search(fold_for_patterns(pattern), fold_for_patterns(f"{title}\n{text}")) is not None


@dataclass
class Counts:
    relevant: int = 0
    found: int = 0  # relevant and returned
    returned: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.relevant if self.relevant else None

    @property
    def precision(self) -> float | None:
        return self.found / self.returned if self.returned else None


def load_items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def item_article(item: dict[str, Any], *, language_hint: bool = False) -> Article:
    url = item.get("url") or f"https://items.example/{item['id']}"
    from datetime import UTC, datetime

    return Article(id=article_id(url + "#" + item["id"]), url=url,
                   canonical_url=canonicalize_url(url), feed=f"eval-{item['lang']}",
                   domain="items.example", title=item.get("title") or "", text=item["text"],
                   fetched=datetime(2026, 1, 1, tzinfo=UTC),
                   language=item["lang"] if language_hint else None)


def index_items(es: Elasticsearch, alias: str, articles: Iterable[Article],
                enricher: Enricher) -> int:
    index = ArticleIndex(es, alias)
    index.ensure()
    docs = [enricher.enrich(article) for article in articles]
    outcome = index.write(docs, refresh=True)
    if outcome.rejected or outcome.retryable:
        raise RuntimeError(f"indexing failed: {outcome.rejected[:1] or outcome.retryable[:1]}")
    es.indices.refresh(index=alias)
    return len(outcome.indexed)


def evaluate(es: Elasticsearch, alias: str, items: list[dict[str, Any]],
             articles: list[Article]) -> dict[str, Counts]:
    by_id = {a.id: (item, a) for item, a in zip(items, articles, strict=True)}
    results: dict[str, Counts] = {}
    for language, queries in QUERIES.items():
        counts = results.setdefault(language, Counts())
        for query, pattern in queries:
            in_language = {aid for aid, (item, _) in by_id.items() if item["lang"] == language}
            gold = {aid for aid in in_language
                    if relevant(pattern, by_id[aid][1].title, by_id[aid][1].text)}
            _, hits = search_articles(es, alias, query, collapse=False, size=len(items))
            got = {h.id for h in hits} & in_language
            counts.relevant += len(gold)
            counts.found += len(gold & got)
            counts.returned += len(got)
            counts.missed += [f"{query}: {by_id[aid][0]['id']}" for aid in sorted(gold - got)]
            counts.missed += [f"{query}: +{by_id[aid][0]['id']}" for aid in sorted(got - gold)]
    return results


def format_table(results: dict[str, Counts]) -> str:
    lines = [f"{'lang':5} {'relevant':>8} {'found':>6} {'returned':>8} {'recall':>7} "
             f"{'precision':>9}"]
    pooled = Counts()
    for language, c in results.items():
        pooled.relevant += c.relevant
        pooled.found += c.found
        pooled.returned += c.returned
        lines.append(_row(language, c))
    lines.append(_row("all", pooled))
    return "\n".join(lines)


def _row(name: str, c: Counts) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    return (f"{name:5} {c.relevant:>8} {c.found:>6} {c.returned:>8} {pct(c.recall):>7} "
            f"{pct(c.precision):>9}")


def main() -> None:
    import argparse

    from ingest.common.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=Path,
                        default=Path(__file__).resolve().parent.parent.parent
                        / "shared/corpora/tagging/items.jsonl")
    parser.add_argument("--language-hint", action="store_true",
                        help="give the worker each item's language instead of detecting it")
    parser.add_argument("--verbose", action="store_true", help="list missed (and +extra) items")
    args = parser.parse_args()
    settings = Settings()
    items = load_items(args.items)
    articles = [item_article(i, language_hint=args.language_hint) for i in items]
    alias = f"nweval{uuid.uuid4().hex[:8]}-articles"
    es = Elasticsearch(settings.es_url, request_timeout=60)
    try:
        index_items(es, alias, articles, Enricher.from_settings(settings))
        results = evaluate(es, alias, items, articles)
    finally:
        if es.indices.exists_alias(name=alias):
            es.indices.delete(index=list(es.indices.get_alias(name=alias)))
        es.close()
    print(format_table(results))
    if args.verbose:
        for language, c in results.items():
            for miss in c.missed:
                print(f"  {language} {miss}")


if __name__ == "__main__":
    main()
