"""Alert rules at scale: 10,000 generated rules evaluated on real article texts.

Articles: the 102 labelled news items (ar, en, fa, ru, tr, de) and 150 pages of the
trafilatura evaluation corpus (mostly de and en, extracted once, untimed): short RSS items and
long pages, in six languages and three scripts.

Rules: generated with a fixed seed to look like what analysts write — 1 to 5 terms each, `any`
terms plus sometimes an `all` or a `none` term, drawn per language from the specific words and
recurring two-word phrases of the articles themselves (not "the" or "und": nobody alerts on
those), mixed with place and actor names of the region in every script. Terms taken from the texts
make rules fire for real, so the measure includes building alerts and snippets, not only a scan
that finds nothing.

Measured: articles per second through `AlertEngine.evaluate` (best of ROUNDS passes, after an
untimed one) — as in the worker, where the tagger has just folded the same title and body
(`normalize_text` caches them), and cold, folding included — and the resident memory the
loaded rules add to the process.
"""

from __future__ import annotations

import gc
import itertools
import json
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.framework import BenchContext, Row, at_least, at_most, info
from enrich.alerts import AlertEngine
from enrich.alerts.rules.article_scan import article_text
from enrich.tagging.text_normalize import normalize_text

RULES = 10_000
PAGES = 150
ROUNDS = 5
SEED = 5

NAMES = [
    "Idlib", "إدلب", "İdlib", "Идлиб", "ادلب", "Aleppo", "حلب", "Halep", "Алеппо", "Damascus",
    "دمشق", "Şam", "Дамаск", "Tehran", "تهران", "طهران", "Tahran", "Тегеран", "Afrin", "عفرين",
    "Manbij", "منبج", "Ariha", "أريحا", "Jisr al-Shughur", "جسر الشغور", "Khan Shaykhun",
    "خان شيخون", "Hama", "حماة", "Homs", "حمص", "Deir ez-Zor", "دير الزور", "Дейр-эз-Зор",
    "Raqqa", "الرقة", "Rakka", "Latakia", "اللاذقية", "Lazkiye", "Hezbollah", "حزب الله",
    "Hizbullah", "HTS", "هيئة تحرير الشام", "Assad", "الأسد", "Esad", "Асад", "Erdoğan",
    "أردوغان", "Эрдоган", "Khamenei", "خامنه‌ای", "Hamaney", "Хаменеи", "ceasefire",
    "وقف إطلاق النار", "ateşkes", "перемирие", "آتش‌بس", "airstrike", "غارة", "hava saldırısı",
    "авиаудар", "refugees", "لاجئين", "mülteci", "беженцы", "پناهندگان", "IRGC", "سپاه",
    "Quds Force", "Astana", "Sochi", "Сочи", "Soçi", "Golan", "الجولان", "Golan Tepeleri",
]
_WORD = re.compile(r"[^\W\d_]{4,}(?:['’][^\W\d_]+)?")


def load_articles(ctx: BenchContext) -> list[dict[str, Any]]:
    from ingest.extract.extraction import ExtractionFailed, extract_html
    from ingest.extract.extraction_eval import load_eval_pages, read_page_html

    items = [json.loads(line) for line in
             (ctx.corpora / "tagging" / "items.jsonl").read_text("utf-8").splitlines() if line]
    docs = [{"id": item["id"], "title": item["title"], "text": item["text"],
             "language": item["lang"], "topics": [k for k, v in item["labels"].items() if v],
             "feed": item["lang"], "domain": "example.org"} for item in items]
    corpus = ctx.corpora / "pages" / "trafilatura-eval"
    pages = load_eval_pages(corpus)
    step = len(pages) / PAGES
    for i in range(PAGES):
        page = pages[int(i * step)]
        try:
            extracted = extract_html(read_page_html(corpus, page), page.url)
        except ExtractionFailed:
            continue
        docs.append({"id": f"page-{i}", "title": extracted.title or "", "text": extracted.text,
                     "language": extracted.language or "de", "topics": [],
                     "feed": "eval", "domain": "example.org"})
    return docs


LANGUAGES = ("ar", "de", "en", "fa", "ru", "tr")


def place_names(language: str) -> list[str]:
    """Countries, regions and cities as this language writes them (CLDR data via Babel, which
    trafilatura's courlan already installs): the bulk of real watchlists. (Not language names:
    "Deutsch", "Arabic" are everyday adjectives nobody sets an alert on.)"""
    from zoneinfo import available_timezones

    from babel import Locale
    from babel.dates import get_timezone_location

    locale = Locale(language)
    names = set(locale.territories.values())
    for zone in available_timezones():
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/")):
            names.add(get_timezone_location(zone, locale=language, return_city=True))
    return sorted(n for n in names if len(normalize_text(n)) >= 3 and "*" not in n)


def phrases(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per language, two-word phrases the articles repeat (seen at least three times)."""
    counts: dict[str, Counter[str]] = {}
    for doc in docs:
        lang = str(doc.get("language") or "xx")[:2]
        tokens = _WORD.findall(article_text(doc))
        counts.setdefault(lang, Counter()).update(
            f"{a} {b}" for a, b in itertools.pairwise(tokens)
        )
    return {lang: sorted(p for p, n in c.items() if n >= 3) for lang, c in counts.items()}


def generate_rules(docs: list[dict[str, Any]], count: int, seed: int = SEED) -> dict[str, Any]:
    """`count` rules of 1–5 terms: mostly place and actor names, some article phrases; an `all`
    term in a third of them, a `none` term in some."""
    rng = random.Random(seed)
    names = {lang: place_names(lang) for lang in LANGUAGES}
    repeated = phrases(docs)
    rules = []
    for n in range(count):
        lang = rng.choice(LANGUAGES)
        pools = [names[lang], NAMES, repeated.get(lang) or names[lang]]
        size = rng.randint(1, 5)
        terms: list[str] = []
        folded: set[str] = set()
        while len(terms) < size:
            pool = rng.choices(pools, weights=(70, 15, 15))[0]
            term = rng.choice(pool)
            if normalize_text(term) not in folded:
                terms.append(term)
                folded.add(normalize_text(term))
        rule: dict[str, Any] = {"name": f"rule-{n:05d}", "channels": ["log"]}
        shape = rng.random()
        if size >= 3 and shape < 0.3:
            rule["any"], rule["all"], rule["none"] = terms[:-2], [terms[-2]], [terms[-1]]
        elif size >= 2 and shape < 0.6:
            rule["any"], rule["all"] = terms[:-1], [terms[-1]]
        else:
            rule["any"] = terms
        rules.append(rule)
    return {"channels": [{"name": "log", "type": "log"}], "rules": rules}


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def rows(ctx: BenchContext) -> list[Row]:
    docs = load_articles(ctx)
    rules = generate_rules(docs, RULES)
    rules_file = ctx.scratch / "alerts-bench.yaml"
    rules_file.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    terms = sum(len(r.get(k, [])) for r in rules["rules"] for k in ("any", "all", "none"))

    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    engine = AlertEngine(rules_file, es=None, producer=None, alerts_topic="bench.alerts",
                         alerts_index="bench-alerts", articles_index="bench-articles",
                         instance_id="bench", reload_check_s=3600)
    load_s = time.perf_counter() - started
    gc.collect()
    rules_mib = (rss_bytes() - before) / 2**20

    fired = [len(engine.evaluate(doc)) for doc in docs]  # untimed warm-up pass
    cold, cold_latencies = measure(engine, docs, shared_folding=False)
    shared, _ = measure(engine, docs, shared_folding=True)
    engine.stop()
    chars = statistics.mean(len(article_text(d)) for d in docs)
    p99 = sorted(cold_latencies)[int(len(cold_latencies) * 0.99) - 1] * 1000
    return [
        at_least(f"alerts: articles/s through {RULES:,} rules ({len(docs)} real articles, mean "
                 f"{chars:,.0f} chars; title and body already folded by the tagger, as in the "
                 "worker)", "articles/s", 1000, round(shared, 1)),
        info("alerts: articles/s when the alert step folds the text itself (no tagger before "
             "it)", "articles/s", round(cold, 1)),
        at_most(f"alerts: RSS added by loading {RULES:,} rules ({terms:,} terms)", "MiB", 256,
                round(rules_mib, 1)),
        info("alerts: time to load and compile the rules file", "s", round(load_s, 2)),
        info("alerts: p99 evaluation time per article (folding included)", "ms", round(p99, 2)),
        info("alerts: rules fired per article (mean)", "alerts", round(statistics.mean(fired), 2)),
    ]


def measure(engine: AlertEngine, docs: list[dict[str, Any]], *,
            shared_folding: bool) -> tuple[float, list[float]]:
    """Best articles/s over ROUNDS passes, and every per-article time.

    `normalize_text` keeps a small cache because the tagger, the gazetteer and the dedup step
    fold the same title and body. Folding the text itself (the default row): the cache is
    emptied before each article. Shared: title and body are folded before the clock starts,
    as the tagger does in the worker just before the alert step.
    """
    clear = getattr(normalize_text, "cache_clear", lambda: None)
    best = 0.0
    latencies: list[float] = []
    for _ in range(ROUNDS):
        total = 0.0
        for doc in docs:
            clear()
            if shared_folding:
                normalize_text(doc["title"])
                normalize_text(doc["text"])
            started = time.perf_counter()
            engine.evaluate(doc)
            elapsed = time.perf_counter() - started
            total += elapsed
            latencies.append(elapsed)
        best = max(best, len(docs) / total)
    return best, latencies
