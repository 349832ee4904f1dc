"""The real `newswatch worker` as it indexed before per-language search fields (issue 11).

Why it exists: issue 11 bounds what the per-language copies of title and text cost the worker
(no more than 15% fewer articles/s than with the previous mapping, measured in the same run).
Only a worker process that differs in exactly that can measure it, so this one runs the
command line unchanged with two names swapped: the articles template is the previous one
(tests/fixtures/articles-template-v1.json, the current template minus `title_<lang>`/`text_<lang>`
and their analyzers) and the enricher adds no per-language copies. Everything else (Kafka,
tagging, entities, dedup, alerts, the bulk request, the commit) is the current code.

Bench-only: nothing under ingest/, enrich/ or flows/ knows about it.

    python -m bench.previous_mapping_worker worker --until-idle 2
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import enrich.index.article_index as article_index
import enrich.worker.enricher as enricher
from flows.cli.main import main

PREVIOUS_TEMPLATE = (Path(__file__).resolve().parent.parent
                     / "tests" / "fixtures" / "articles-template-v1.json")


def previous_template(alias: str, shards: int, replicas: int) -> dict[str, Any]:
    """The previous articles template, for `alias`'s backing indices."""
    template: dict[str, Any] = json.loads(PREVIOUS_TEMPLATE.read_text("utf-8"))
    template["index_patterns"] = [f"{alias}-*"]
    settings = template["template"]["settings"]
    settings["number_of_shards"] = shards
    settings["number_of_replicas"] = replicas
    return template


def no_language_fields(language: str | None, title: str, text: str) -> dict[str, str]:
    return {}


if __name__ == "__main__":
    article_index.articles_template = previous_template
    enricher.language_fields = no_language_fields
    main()
