"""Extraction drift end to end: a site whose pages suddenly extract to a fraction of their
usual length is flagged in `newswatch feeds health`, from state shared in Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from flows.cli.main import cli
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.extract.extraction_drift import DomainDriftState, ExtractionDriftTracker
from ingest.extract.extraction_drift_store import DriftRecorder, DriftStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_once, prepare_ingest
from tests.support.http_fixture_server import FixtureServer


def test_a_site_whose_pages_shrink_is_flagged_in_feed_health(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    prepare_ingest(settings)
    es = make_es(settings)
    store = DriftStore(es, settings.drift_index)
    history = DomainDriftState(baseline=[3000] * 30, recent=[3000] * 10)
    recorder = DriftRecorder(ExtractionDriftTracker(states={"127.0.0.1": history}))
    recorder.touched.add("127.0.0.1")
    store.save(recorder, datetime.now(UTC))
    assert store.drifting() == []

    # The site changed its template: articles now extract to a teaser only.
    short = "<html><body><article><p>" + "A teaser line only. " * 13 + "</p></article></body>"
    items = ""
    for n in range(10):
        url = fixture_server.add(f"/a/{n}.html", short + "</html>")
        items += f"<item><title>T{n}</title><link>{url}</link></item>"
    fixture_server.add("/f.xml", f"<rss version='2.0'><channel><title>x</title>{items}"
                       "</channel></rss>", "application/rss+xml")
    assert poll_once(settings, [FeedConfig(name="x", url=fixture_server.url("/f.xml"))]  # type: ignore[arg-type]
                     ).produced == 10

    flagged = store.drifting()
    es.close()
    assert [site["domain"] for site in flagged] == ["127.0.0.1"]
    assert "median text length fell from 3000" in flagged[0]["reasons"]
    result = CliRunner().invoke(cli, ["feeds", "health"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "extraction drift on 127.0.0.1: median text length fell" in result.output
