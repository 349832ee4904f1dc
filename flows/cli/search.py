"""`newswatch search QUERY`: the analyst's search over every language's fields.

Registered on the main command with `cli.add_command(search)`. Query syntax and ranking are
described in enrich/search/search.py (and `newswatch search --help`). Bad input is refused by click
with a one-line message: an empty or punctuation-only query, an unknown topic/place/actor id
(the known ones are listed), a language that is not an ISO 639-1 code, a size out of range.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch, NotFoundError

from ingest.common.settings import Settings

QUERY_HELP = """Search the indexed articles in every language.

\b
QUERY syntax:
  Idlib Saraqib       both words (every word is required)
  Idlib AND Syria     the same (AND, OR, NOT in capitals are operators)
  Idlib OR Aleppo     either one (also: Idlib | Aleppo)
  Idlib NOT Turkey    without Turkey (also: Idlib -Turkey)
  "Jisr al-Shughur"   the exact phrase
  Sarm*               words starting with Sarm
  '*'                 every article, newest first

A word in its dictionary form also finds its inflected, prefixed and suffixed forms in the
article's language (Сирия: Сирии, Сирию; Suriye: Suriye'de; إدلب: وإدلب, بإدلب). With
--any-language a known place, actor or topic is also looked up under all its names
(Idlib: إدلب, Идлиб, İdlib, ...).
"""

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


@contextmanager
def elasticsearch_for(settings: Settings) -> Iterator[Elasticsearch]:
    """A client whose unreachable server becomes a one-line error instead of a traceback."""
    from ingest.common.es_client import make_es

    es = make_es(settings)
    try:
        yield es
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise click.ClickException(
            f"Elasticsearch is not reachable at {settings.es_url} ({type(exc).__name__}); "
            "start it with `newswatch stack up` or `make run`") from exc
    except NotFoundError as exc:
        raise click.ClickException(
            f"no articles index {settings.articles_alias!r} at {settings.es_url} yet: "
            "it is created when the first worker starts") from exc
    finally:
        es.close()


def _known(kind: str, given: Sequence[str], known: Sequence[str], option: str) -> None:
    unknown = [v for v in given if v not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown {kind} {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}",
            param_hint=option)


def _check_languages(languages: Sequence[str]) -> None:
    from enrich.search.search_fields import SEARCH_LANGUAGES

    bad = [code for code in languages if not _LANGUAGE_CODE.match(code)]
    if bad:
        raise click.BadParameter(
            f"{', '.join(map(repr, bad))} is not an ISO 639-1 language code (two lower-case "
            f"letters, e.g. {', '.join(SEARCH_LANGUAGES)})", param_hint="--language")


def check_query(query: str) -> None:
    from enrich.search.search import MATCH_ALL, has_words

    if query.strip() == MATCH_ALL:
        return
    if not has_words(query):
        raise click.UsageError(
            f"nothing to search for in {query!r}: type at least one word, or '*' to list the "
            "newest articles")


@click.command(help=QUERY_HELP)
@click.argument("query")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per hit and line (with language, feed, places, actors).")
@click.option("--topic", default=None, help="Only articles tagged with this topic id.")
@click.option("--language", "languages", multiple=True, metavar="CODE",
              help="Only articles in this language (ISO 639-1; repeat for several).")
@click.option("--feed", "feeds", multiple=True, help="Only articles from this feed (repeatable).")
@click.option("--place", "places", multiple=True, metavar="ID",
              help="Only articles naming this place id from places.yaml (repeatable).")
@click.option("--actor", "actors", multiple=True, metavar="ID",
              help="Only articles naming this actor id from actors.yaml (repeatable).")
@click.option("--since", type=_DATE, default=None, help="Published on or after this date.")
@click.option("--until", type=_DATE, default=None,
              help="Published on or before this date (a date includes the whole day).")
@click.option("--sort", type=click.Choice(["relevance", "newest"]), default="relevance")
@click.option("--all", "show_all", is_flag=True, help="Show every near-duplicate, not one per "
              "cluster.")
@click.option("--size", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--any-language", is_flag=True,
              help="Also search every name of a known place, actor or topic in the query "
                   "(from places.yaml, actors.yaml, topics.yaml); prints the expansion.")
@click.pass_obj
def search(settings: Settings, query: str, as_json: bool, topic: str | None,
           languages: tuple[str, ...], feeds: tuple[str, ...], places: tuple[str, ...],
           actors: tuple[str, ...], since: datetime | None, until: datetime | None, sort: str,
           show_all: bool, size: int, any_language: bool) -> None:
    from enrich.search.query_expansion import NameTable, expand_query, whole_query_names
    from enrich.search.search import SearchFilters, search_articles

    check_query(query)
    _check_languages(languages)
    if topic is not None:
        from enrich.tagging.taxonomy import load_taxonomy

        _known("topic", [topic], load_taxonomy(settings.config_dir / "topics.yaml").topic_ids,
               "--topic")
    if places or actors:
        from enrich.entities.gazetteer_config import load_gazetteer_config

        gazetteer = load_gazetteer_config(settings.config_dir / "actors.yaml",
                                          settings.config_dir / "places.yaml")
        _known("place", places, [p.id for p in gazetteer.places.places], "--place")
        _known("actor", actors, [a.id for a in gazetteer.actors.actors], "--actor")
    names: list[str] = []
    if any_language:
        typed = query
        query, expansions = expand_query(query, NameTable.from_config_dir(settings.config_dir))
        names = whole_query_names(typed, expansions)
        for expansion in expansions:
            click.echo(f"expanded {expansion.describe()}", err=True)
        if not expansions:
            click.echo("expanded nothing: no known place, actor or topic in the query", err=True)
    filters = SearchFilters(
        topic=topic, since=since.date() if since else None,
        until=(until if until and (until.hour or until.minute or until.second)
               else until.date() if until else None),
        languages=languages, feeds=feeds, places=places, actors=actors)
    with elasticsearch_for(settings) as es:
        total, hits = search_articles(
            es, settings.articles_alias, query, filters=filters, any_of_names=names,
            sort=sort,  # type: ignore[arg-type]
            collapse=not show_all, size=size)
    if as_json:
        for hit in hits:
            click.echo(hit.model_dump_json(exclude={"score", "domain", "cluster_size"}))
        return
    click.echo(f"{total} matching articles")
    for rank, hit in enumerate(hits, 1):
        _print_hit(rank, hit)


def _print_hit(rank: int, hit: Any) -> None:
    similar = (hit.cluster_size or 1) - 1
    extra = f" (+{similar} similar)" if similar else ""
    click.echo(f"{rank}. {hit.title}{extra}")
    click.echo(f"   {hit.url}  published {hit.published or '?'}  language {hit.language or '?'}  "
               f"topics: {', '.join(hit.topics) or '-'}")
    for fragment in hit.highlight[:2]:
        click.echo(f"   … {terminal_highlight(fragment)} …")


def terminal_highlight(fragment: str) -> str:
    if sys.stdout.isatty():
        return fragment.replace("<em>", "\033[1;33m").replace("</em>", "\033[0m")
    return fragment.replace("<em>", "[").replace("</em>", "]")
