"""The bench's previous-mapping worker must differ from the worker in the per-language fields
only: if the current template gains a field the previous one lacks, the strict previous
mapping would refuse every document and the bench row would time the dead-letter path."""

from __future__ import annotations

from bench.previous_mapping_worker import no_language_fields, previous_template
from enrich.index.article_index import articles_template
from enrich.search.search_fields import all_language_fields, language_fields


def test_previous_template_is_the_current_one_without_language_fields() -> None:
    current = articles_template("bench-x-articles", 2, 1)
    previous = previous_template("bench-x-articles", 2, 1)
    current_fields = set(current["template"]["mappings"]["properties"])
    previous_fields = set(previous["template"]["mappings"]["properties"])
    assert current_fields - previous_fields == set(all_language_fields())
    assert previous_fields <= current_fields
    assert previous["index_patterns"] == ["bench-x-articles-*"]
    assert previous["template"]["settings"]["number_of_shards"] == 2
    assert previous["template"]["settings"]["number_of_replicas"] == 1
    assert previous["template"]["mappings"]["dynamic"] == "strict"


def test_the_swapped_enricher_step_adds_no_copies() -> None:
    assert language_fields("ru", "Сирия", "В Сирии") != {}
    assert no_language_fields("ru", "Сирия", "В Сирии") == {}
