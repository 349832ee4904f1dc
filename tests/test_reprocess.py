"""`newswatch reprocess`: after a taxonomy change, stored documents are re-enriched from their
stored text; an interrupted run continues where it stopped."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from enrich.index.article_index import ArticleIndex
from enrich.index.reprocess import count_selected, reprocess
from enrich.worker.enricher import Enricher
from enrich.worker.loop import run_worker
from flows.cli.main import cli
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import REPO
from tests.support.articles import make_article
from tests.support.kafka_tools import produce_articles


class Interrupted(Exception):
    pass


def test_reprocess_after_a_taxonomy_change_is_resumable(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_topics(settings)

    articles = [make_article(n, title=f"Harbour council meets in Latakia, part {n}")
                for n in range(30)]
    produce_articles(settings, articles)
    assert run_worker(settings, until_idle_s=1).indexed == 30

    # A new taxonomy version (a YAML edit), loaded from another config folder.
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    topics = (config / "topics.yaml").read_text(encoding="utf-8")
    old = Enricher.from_config_dir(REPO / "config").tagger
    bumped = re.sub(r'(?m)^version: .*$', f'version: "{old.taxonomy.version}-next"', topics,
                    count=1)
    (config / "topics.yaml").write_text(bumped, encoding="utf-8")
    enricher = Enricher.from_config_dir(config)
    # The stored version names the taxonomy and the model that decided (topic_model.yaml).
    assert enricher.version.taxonomy == f"{old.taxonomy.version}-next+{old.model.version}"

    es = make_es(settings)
    index = ArticleIndex(es, settings.articles_alias)
    assert count_selected(es, settings.articles_alias, enricher.version) == 30
    stored = es.get(index=settings.articles_alias, id=articles[0].id)["_source"]

    def stop_after_first_batch(done: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        reprocess(es, index, enricher, batch_size=10, on_progress=stop_after_first_batch)
    assert count_selected(es, settings.articles_alias, enricher.version) == 20

    stats = reprocess(es, index, enricher, batch_size=10)
    assert (stats.selected, stats.rewritten, stats.failed) == (20, 20, [])
    assert count_selected(es, settings.articles_alias, enricher.version) == 0
    again = es.get(index=settings.articles_alias, id=articles[0].id)["_source"]
    assert again["taxonomy_version"] == enricher.version.taxonomy
    assert again["topics"] == stored["topics"] == ["syria"]  # Latakia is in Syria
    assert again["cluster_id"] == stored["cluster_id"]
    es.close()

    # Through the CLI with the new config: nothing left to do.
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    result = CliRunner().invoke(cli, ["reprocess"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "re-enriched 0 of 0 articles" in result.output
