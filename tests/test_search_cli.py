"""`newswatch search` on the embedded servers: query syntax, filters, JSON fields, and bad input
refused with a one-line message (never a traceback: the runner re-raises any exception)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from enrich.worker.loop import run_worker
from infra.embedded_stack import free_port
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.message.article import Article
from tests.support.articles import T0, make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce_articles


def _index(settings: Settings, articles: list[Article]) -> None:
    ensure_topics(settings)
    produce_articles(settings, articles)
    assert run_worker(settings, until_idle_s=1).indexed == len(articles)
    with make_es(settings) as es:
        es.indices.refresh(index=settings.articles_alias)


def _hits(*args: str) -> list[dict[str, object]]:
    code, output = invoke("search", *args, "--json", "--all")
    assert code == 0, output
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def indexed(settings: Settings) -> list[Article]:
    articles = [
        make_article(1, title="Shelling reported near Saraqib in Idlib province, Syria"),
        # Many "and"s, Syria, no Idlib: must not come up for "Idlib AND Syria".
        make_article(2, title="Syria and Jordan and Lebanon and Iraq",
                     text="Trade and transport and tourism and more and more and more."),
        make_article(3, title="Idlib talks resume in Moscow"),
        make_article(4, title="Harbour festival opens", text="Bands and boats in the harbour."),
        make_article(5, title="საქართველო: ახალი მთავრობა", text="თბილისი საქართველო"),
    ]
    articles[4] = articles[4].model_copy(update={"language": "ka", "feed": "georgia"})
    _index(settings, articles)
    return articles


def test_and_is_an_operator_not_a_word(indexed: list[Article]) -> None:
    assert [h["id"] for h in _hits("Idlib AND Syria")] == [indexed[0].id]
    assert {h["id"] for h in _hits("Idlib OR Jordan")} == {indexed[0].id, indexed[1].id,
                                                            indexed[2].id}
    assert [h["id"] for h in _hits("Idlib NOT Syria")] == [indexed[2].id]
    assert [h["id"] for h in _hits("Sara*")] == [indexed[0].id]


def test_star_lists_the_newest_first(indexed: list[Article]) -> None:
    assert [h["id"] for h in _hits("*")] == [a.id for a in reversed(indexed)]


def test_json_hits_carry_language_feed_places_actors(indexed: list[Article]) -> None:
    hit = _hits("Saraqib")[0]
    assert hit["language"] == "en" and hit["feed"] == "synthetic"
    assert "idlib" in hit["places"] and "saraqib" in hit["places"]  # type: ignore[operator]
    assert isinstance(hit["actors"], list)


def test_filters(indexed: list[Article]) -> None:
    assert {h["id"] for h in _hits("*", "--place", "saraqib")} == {indexed[0].id}
    assert {h["id"] for h in _hits("*", "--language", "ka")} == {indexed[4].id}
    assert {h["id"] for h in _hits("*", "--feed", "georgia")} == {indexed[4].id}
    until = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
    assert {h["id"] for h in _hits("*", "--until", until)} == {indexed[0].id, indexed[1].id}
    assert _hits("*", "--actor", "bashar-al-assad") == []
    assert _hits("Idlib", "--until", "2000-01-01") == []


def test_a_script_no_analyzer_covers_is_still_found(indexed: list[Article]) -> None:
    assert [h["id"] for h in _hits("საქართველო")] == [indexed[4].id]
    assert _hits("漢字") == []


@pytest.mark.parametrize(("args", "message"), [
    (["search", ""], "nothing to search for"),
    (["search", "?! ..."], "nothing to search for"),
    (["search", "Idlib", "--topic", "idlb"], "unknown topic 'idlb'; known: idlib, iran, syria"),
    (["search", "Idlib", "--place", "idleb"], "unknown place 'idleb'"),
    (["search", "Idlib", "--actor", "nobody"], "unknown actor 'nobody'"),
    (["search", "Idlib", "--language", "english"], "not an ISO 639-1 language code"),
    (["search", "Idlib", "--size", "-5"], "Invalid value for '--size'"),
    (["search", "Idlib", "--size", "0"], "Invalid value for '--size'"),
])
def test_bad_input_is_refused_in_one_line(settings: Settings, args: list[str],
                                          message: str) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_elasticsearch_down_is_one_line(settings: Settings,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ES_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSWATCH_ES_TIMEOUT_S", "2")
    code, output = invoke("search", "Idlib")
    assert code == 1
    assert "Elasticsearch" in output and "newswatch stack up" in output
    assert len(output.strip().splitlines()) == 1
