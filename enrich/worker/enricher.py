"""Turn an Article message into the Elasticsearch document: language, topics with evidence,
people and places, near-duplicate signature. Pure given its loaded models (no I/O), so the same
code serves the worker, `newswatch reprocess` and the tests. Clusters need the index, so the
worker assigns them per batch (enrich/dedup/cluster_lookup.py); until then a document is its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enrich.dedup.near_duplicates import band_keys, minhash_signature
from enrich.entities.gazetteer import Gazetteer, load_gazetteer
from enrich.index.article_date import ARTICLE_DATE_FIELD, article_date
from enrich.search.search_fields import language_fields
from enrich.tagging.language import detect_language
from enrich.tagging.tagger import Tagger
from enrich.tagging.taxonomy import load_taxonomy
from enrich.tagging.topic_model import load_topic_model
from ingest.common.settings import Settings
from ingest.message.article import Article


@dataclass(frozen=True)
class EnrichmentVersion:
    """What a stored document was enriched with; reprocess redoes those that differ."""

    taxonomy: str
    gazetteer: str


def load_tagger(config_dir: Path, gazetteer: Gazetteer | None = None) -> Tagger:
    """The tagger of a config folder: `topics.yaml`, its model `topic_model.yaml`, and the
    gazetteer (`actors.yaml`, `places.yaml`) whose findings are evidence too."""
    if gazetteer is None:
        gazetteer = load_gazetteer(config_dir / "actors.yaml", config_dir / "places.yaml")
    return Tagger(
        load_taxonomy(config_dir / "topics.yaml"),
        load_topic_model(config_dir / "topic_model.yaml"),
        gazetteer,
    )


class Enricher:
    def __init__(self, tagger: Tagger, gazetteer: Gazetteer) -> None:
        self.tagger = tagger
        self.gazetteer = gazetteer
        self.version = EnrichmentVersion(tagger.version, gazetteer.version)

    @classmethod
    def from_config_dir(cls, config_dir: Path) -> Enricher:
        gazetteer = load_gazetteer(config_dir / "actors.yaml", config_dir / "places.yaml")
        return cls(load_tagger(config_dir, gazetteer), gazetteer)

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher:
        return cls.from_config_dir(settings.config_dir)

    def enrich(self, article: Article, *, now: datetime | None = None) -> dict[str, Any]:
        language = article.language or detect_language(f"{article.title}\n{article.text[:2000]}")
        found = self.gazetteer.find(article.title, article.text)
        tags = self.tagger.tag(article.title, article.text, language, places=found)
        signature = minhash_signature(article.title, article.text)
        doc = article.model_dump(mode="json", exclude={"summary"} if not article.summary else None)
        doc.update(
            {
                "language": language,
                "topics": tags.topics,
                "matches": tags.matches,
                "tag_evidence": tags.evidence,
                "taxonomy_version": tags.taxonomy_version,
                "gazetteer_version": found.version,
                **found.document_fields(),
                "minhash": signature,
                "dedup_bands": band_keys(signature),
                "cluster_id": article.id,
                ARTICLE_DATE_FIELD: article_date(doc),
                "indexed": (now or datetime.now(UTC)).isoformat(),
                **language_fields(language, article.title, article.text),
            }
        )
        if doc.get("geo") is None:
            doc.pop("geo", None)
        return doc
