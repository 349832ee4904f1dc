"""Moving stored articles onto a new articles mapping, behind the alias, while search answers.

Why this is needed: analyzers are settings of an index, fixed when it is created, so a mapping
that changes how `title`/`text` are analysed (or adds fields with new analyzers) cannot be put
on an index that exists. The template carries `_meta.mapping_version`; an index created from
an older template has a lower one (none: 1).

What happens, in order:
1. `upgrade_mappings` (run by `ArticleIndex.ensure`, so by every worker start): when the write
   index is older than the template, the alias rolls over to a new backing index, created from
   the new template. Older indices get the template's new fields with the standard analyzer,
   so a worker rewriting an article stored there (its "home", enrich/index/article_index.py) is not
   refused by the strict mapping. Nothing else changes: no document moves yet.
2. `migrate` (`newswatch index migrate`): copies the documents of each older index into the
   write index, batch by batch, and deletes each original once its copy is stored, then drops
   the emptied index. Progress is reported per batch. It is resumable: what is left to do is
   exactly what is still in the older indices, so a rerun continues where a stopped one ended.

Why ids stay unique across backing indices: an original is deleted only with
`if_seq_no`/`if_primary_term` of the version that was copied; if a worker rewrote it in the
meantime the delete is refused and the next pass copies the newer version. A copy never
overwrites a newer document (compared by `indexed`, the time the worker wrote it). Between a
copy and its delete, a search can see an article twice for a moment (it collapses by cluster);
it never sees it missing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, helpers

from enrich.search.search_fields import language_fields

log = logging.getLogger(__name__)

META_KEY = "mapping_version"


def template_version(template: dict[str, Any]) -> int:
    return int(template["template"]["mappings"].get("_meta", {}).get(META_KEY, 1))


def _mapping_version(mapping: dict[str, Any]) -> int:
    return int((mapping.get("_meta") or {}).get(META_KEY, 1))


def compat_properties(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The fields of `new` an index mapped as `old` lacks, with text fields on the standard
    analyzer (an older index has none of the new analyzers). Pure."""
    added: dict[str, Any] = {}
    for name, spec in new.items():
        if name in old:
            continue
        if spec.get("type") == "text":
            spec = {k: v for k, v in spec.items() if k not in ("analyzer", "search_analyzer")}
            spec["analyzer"] = "standard"
        added[name] = spec
    return added


@dataclass(frozen=True)
class IndexVersions:
    write_index: str
    versions: dict[str, int]  # backing index -> mapping version
    properties: dict[str, dict[str, Any]]

    def older_than(self, version: int) -> list[str]:
        return sorted(name for name, v in self.versions.items() if v < version)


def index_versions(es: Elasticsearch, alias: str) -> IndexVersions:
    aliases = es.indices.get_alias(name=alias).body
    write = [name for name, body in aliases.items()
             if body.get("aliases", {}).get(alias, {}).get("is_write_index")]
    mappings = es.indices.get_mapping(index=alias).body
    versions = {name: _mapping_version(body["mappings"]) for name, body in mappings.items()}
    properties = {name: body["mappings"].get("properties", {}) for name, body in mappings.items()}
    write_index = write[0] if write else max(versions)
    return IndexVersions(write_index, versions, properties)


def next_index_name(index: str) -> str:
    """`newswatch-articles-000007` -> `newswatch-articles-000008` (the rollover naming)."""
    match = re.search(r"(\d+)$", index)
    if not match:
        return f"{index}-000002"
    digits = match.group(1)
    return f"{index[:match.start()]}{int(digits) + 1:0{len(digits)}d}"


def upgrade_mappings(es: Elasticsearch, alias: str, template: dict[str, Any]) -> list[str]:
    """Step 1 (see the module docstring). Returns the older indices whose documents wait for
    `migrate`. The template must already be installed."""
    current = template_version(template)
    new_properties = template["template"]["mappings"]["properties"]
    state = index_versions(es, alias)
    if state.versions[state.write_index] < current:
        # Named, so that workers starting together create one new index, not one each.
        target = next_index_name(state.write_index)
        try:
            es.indices.rollover(alias=alias, new_index=target)
            log.warning("articles mapping v%s installed: new write index %s; run `newswatch "
                        "index migrate` to move the stored articles from %s", current, target,
                        state.write_index)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        state = index_versions(es, alias)
    for name, version in state.versions.items():
        if version == current:
            es.indices.put_mapping(index=name, properties=new_properties)
        elif version < current:
            missing = compat_properties(new_properties, state.properties[name])
            if missing:
                es.indices.put_mapping(index=name, properties=missing)
    return state.older_than(current)


def upgrade_document(source: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the current worker would write it: the per-language copies of
    title and text (routed by its language) are added. Pure."""
    doc = dict(source)
    for name in [k for k in doc if k.startswith(("title_", "text_"))]:
        del doc[name]
    doc.update(language_fields(doc.get("language"), doc.get("title") or "",
                               doc.get("text") or ""))
    return doc


@dataclass
class MigrationStats:
    total: int = 0  # documents in older indices when the run started
    copied: int = 0
    kept_newer: int = 0  # the write index already held a newer version
    deleted: int = 0
    retried: int = 0  # rewritten by a worker during the copy: copied again on a later pass
    dropped_indices: list[str] | None = None


def pending(es: Elasticsearch, alias: str, template: dict[str, Any]) -> dict[str, int]:
    """Documents left in each older backing index."""
    state = index_versions(es, alias)
    older = state.older_than(template_version(template))
    if older:
        es.indices.refresh(index=",".join(older))
    return {name: int(es.count(index=name)["count"]) for name in older}


def migrate(
    es: Elasticsearch, alias: str, template: dict[str, Any], *, batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> MigrationStats:
    """Step 2 (see the module docstring): move every document of the older indices into the
    alias's write index, then drop the emptied indices."""
    older = upgrade_mappings(es, alias, template)
    stats = MigrationStats(dropped_indices=[])
    stats.total = sum(pending(es, alias, template).values())
    for name in older:
        while True:
            es.indices.refresh(index=name)
            hits = es.search(index=name, size=batch_size, seq_no_primary_term=True,
                             sort=[{"id": "asc"}], query={"match_all": {}})["hits"]["hits"]
            if not hits:
                break
            moved = _move_batch(es, alias, name, hits, stats)
            if progress:
                progress(moved)
            if moved == 0 and stats.retried > 100 * stats.total + 100:
                raise RuntimeError(f"no progress migrating {name}: documents keep changing")
        es.indices.refresh(index=name)
        if int(es.count(index=name)["count"]) == 0:
            es.indices.delete(index=name)
            stats.dropped_indices.append(name)  # type: ignore[union-attr]
            log.info("migrated and dropped %s", name)
    return stats


def _move_batch(es: Elasticsearch, alias: str, old_index: str, hits: list[dict[str, Any]],
                stats: MigrationStats) -> int:
    write_index = index_versions(es, alias).write_index
    ids = [hit["_id"] for hit in hits]
    existing = {d["_id"]: d.get("_source", {}) for d in
                es.mget(index=write_index, ids=ids, source_includes=["indexed"])["docs"]
                if d.get("found")}
    copies = []
    for hit in hits:
        newer = existing.get(hit["_id"])
        if newer is not None and str(newer.get("indexed") or "") >= str(
                hit["_source"].get("indexed") or ""):
            stats.kept_newer += 1
            continue
        copies.append({"_index": write_index, "_id": hit["_id"],
                       "_source": upgrade_document(hit["_source"])})
    for ok, item in helpers.streaming_bulk(es, copies, raise_on_error=False, max_retries=3,
                                           refresh="wait_for"):
        if not ok:
            raise RuntimeError(f"copy refused: {item}")
        stats.copied += 1
    deletes = [{"_op_type": "delete", "_index": old_index, "_id": hit["_id"],
                "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}
               for hit in hits]
    moved = 0
    for ok, item in helpers.streaming_bulk(es, deletes, raise_on_error=False, max_retries=3):
        status = int(item.get("delete", {}).get("status", 0))
        if ok or status == 404:
            moved += 1
            stats.deleted += 1
        elif status == 409:  # rewritten since we read it: the next pass copies the new version
            stats.retried += 1
        else:
            raise RuntimeError(f"delete refused: {item}")
    return moved
