"""The `newswatch-alerts` index: alerts, digests and realert windows, and their delivery state.

Everything alerting must remember across a restart lives here, so a worker that dies loses
nothing and a new one resumes: an alert is created once (`op_type=create`, `_id` = alert id),
its per-channel delivery record is updated after each attempt, a digest is a document that
waits until its window closes, and a realert window is a small state document claimed with
optimistic concurrency (`if_seq_no`), so two workers never both open the same window.

Three document types share the index (`doc_type`: alert, digest, realert_state): one index,
one template, one place to look.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

from enrich.alerts.alert import Alert
from enrich.alerts.suppression import WindowState, state_id

DELIVERABLE = ("alert", "digest")


class AlertStoreUnavailable(Exception):
    """Elasticsearch could not be reached or refused a write the alert step depends on."""


@dataclass(frozen=True)
class Versioned:
    """A document with the version to write it back conditionally."""

    source: dict[str, Any]
    seq_no: int
    primary_term: int


def alerts_template(index: str, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    text = resources.files("infra").joinpath("elasticsearch/alerts-template.json").read_text(
        "utf-8"
    )
    body: dict[str, Any] = json.loads(text)
    body["index_patterns"] = [index]
    body["template"]["settings"].update(
        {"number_of_shards": shards, "number_of_replicas": replicas}
    )
    return body


def alert_from_doc(source: dict[str, Any]) -> Alert:
    return Alert.model_validate({k: v for k, v in source.items() if k in Alert.model_fields})


def _iso(value: datetime) -> str:
    return value.isoformat()


class AlertStore:
    def __init__(self, es: Elasticsearch, index: str, *, shards: int = 1, replicas: int = 0):
        self.es = es
        self.index = index
        self._shards = shards
        self._replicas = replicas

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConflictError, NotFoundError):
            raise
        except (ApiError, TransportError) as exc:
            raise AlertStoreUnavailable(f"{what} on {self.index}: {exc}") from exc

    # --- setup ------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Install the template and create the index (mappings only ever grow)."""
        template = alerts_template(self.index, self._shards, self._replicas)
        self._call("put template", self.es.indices.put_index_template, name=self.index,
                   **template)
        if self._call("exists", self.es.indices.exists, index=self.index):
            self._call("put mapping", self.es.indices.put_mapping, index=self.index,
                       properties=template["template"]["mappings"]["properties"])
            return
        try:
            self.es.indices.create(
                index=self.index, settings=template["template"]["settings"],
                mappings=template["template"]["mappings"],
            )
        except ApiError as exc:
            if "resource_already_exists" not in str(exc):
                raise AlertStoreUnavailable(f"create {self.index}: {exc}") from exc
        except TransportError as exc:
            raise AlertStoreUnavailable(f"create {self.index}: {exc}") from exc

    def refresh(self) -> None:
        self._call("refresh", self.es.indices.refresh, index=self.index)

    # --- alerts -----------------------------------------------------------------------------
    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids are already in the index (a realtime get: no refresh needed)."""
        if not ids:
            return set()
        answer = self._call("mget", self.es.mget, index=self.index, ids=list(ids),
                            source=False)
        return {d["_id"] for d in answer["docs"] if d.get("found")}

    def create_many(self, docs: Sequence[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
        """Create documents that do not exist yet. Returns the ids created (a 409 = it was
        there) and the ids the index refused for good (4xx: a document it cannot take — a
        bug to fix, not a reason to stop ingestion). Busy (429/5xx) raises: try again."""
        if not docs:
            return set(), {}
        operations: list[dict[str, Any]] = []
        for doc in docs:
            operations.append({"create": {"_index": self.index, "_id": doc["id"]}})
            operations.append(doc)
        answer = self._call("bulk create", self.es.bulk, operations=operations)
        created: set[str] = set()
        refused: dict[str, str] = {}
        busy = []
        for item in answer["items"]:
            result = item["create"]
            status = result.get("status", 500)
            if status in (200, 201):
                created.add(result["_id"])
            elif status == 429 or status >= 500:
                busy.append(f"{result['_id']}: HTTP {status} {result.get('error')}")
            elif status != 409:
                refused[result["_id"]] = f"HTTP {status}: {result.get('error')}"
        if busy:
            raise AlertStoreUnavailable("alerts not indexed: " + "; ".join(busy[:5]))
        return created, refused

    def create_if_absent(self, doc: dict[str, Any]) -> bool:
        try:
            self._call("create", self.es.index, index=self.index, id=doc["id"], document=doc,
                       op_type="create")
        except ConflictError:
            return False
        return True

    def update(self, doc_id: str, fields: dict[str, Any]) -> None:
        self._call("update", self.es.update, index=self.index, id=doc_id, doc=fields)

    def get(self, doc_id: str) -> Versioned | None:
        try:
            answer = self._call("get", self.es.get, index=self.index, id=doc_id)
        except NotFoundError:
            return None
        return Versioned(answer["_source"], answer["_seq_no"], answer["_primary_term"])

    # --- realert windows --------------------------------------------------------------------
    def window(self, rule: str, group: str) -> tuple[WindowState | None, Versioned | None]:
        found = self.get(state_id(rule, group))
        if found is None:
            return None, None
        state = WindowState(
            datetime.fromisoformat(found.source["last_fired_at"]), found.source["last_alert_id"]
        )
        return state, found

    def claim_window(self, rule: str, group: str, state: WindowState,
                     previous: Versioned | None) -> bool:
        """Record that `state.last_alert_id` opened a window; False if someone else wrote the
        state since `previous` was read (read again and decide again)."""
        doc = {
            "doc_type": "realert_state", "id": state_id(rule, group), "rule": rule,
            "group_key": group, "last_fired_at": _iso(state.last_fired_at),
            "last_alert_id": state.last_alert_id,
        }
        try:
            if previous is None:
                self._call("create state", self.es.index, index=self.index, id=doc["id"],
                           document=doc, op_type="create")
            else:
                self._call("update state", self.es.index, index=self.index, id=doc["id"],
                           document=doc, if_seq_no=previous.seq_no,
                           if_primary_term=previous.primary_term)
        except ConflictError:
            return False
        return True

    # --- delivery ---------------------------------------------------------------------------
    def pending(self, owner: str, now: datetime, limit: int = 500) -> list[Versioned]:
        """Deliverable documents with open deliveries that are ours or whose owner's lease
        has run out (a worker that died)."""
        query = {
            "bool": {
                "filter": [
                    {"terms": {"doc_type": list(DELIVERABLE)}},
                    {"term": {"delivery_pending": True}},
                ],
                "should": [
                    {"term": {"owner": owner}},
                    {"range": {"lease_until": {"lt": _iso(now)}}},
                ],
                "minimum_should_match": 1,
            }
        }
        self.refresh()
        answer = self._call("search pending", self.es.search, index=self.index, query=query,
                            size=limit, sort=[{"fired_at": "asc"}], seq_no_primary_term=True)
        return [
            Versioned(hit["_source"], hit["_seq_no"], hit["_primary_term"])
            for hit in answer["hits"]["hits"]
        ]

    def claim(self, found: Versioned, owner: str, lease_until: datetime) -> bool:
        try:
            self._call("claim", self.es.update, index=self.index, id=found.source["id"],
                       doc={"owner": owner, "lease_until": _iso(lease_until)},
                       if_seq_no=found.seq_no, if_primary_term=found.primary_term)
        except ConflictError:
            return False
        return True

    def digest_members(self, digest_id: str, limit: int = 1000) -> list[Alert]:
        self.refresh()
        answer = self._call(
            "search digest", self.es.search, index=self.index,
            query={"bool": {"filter": [{"term": {"doc_type": "alert"}},
                                       {"term": {"digest_id": digest_id}}]}},
            size=limit, sort=[{"fired_at": "asc"}],
        )
        return [alert_from_doc(hit["_source"]) for hit in answer["hits"]["hits"]]

    # --- reading ----------------------------------------------------------------------------
    def history(self, rule: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"terms": {"doc_type": list(DELIVERABLE)}}]
        if rule:
            filters.append({"term": {"rule": rule}})
        self.refresh()
        answer = self._call("search history", self.es.search, index=self.index,
                            query={"bool": {"filter": filters}}, size=limit,
                            sort=[{"fired_at": "desc"}])
        return [hit["_source"] for hit in answer["hits"]["hits"]]

    def last_fired(self, rules: Iterable[str]) -> dict[str, datetime]:
        names = list(rules)
        if not names:
            return {}
        try:
            self.refresh()
        except NotFoundError:  # nothing ever fired
            return {}
        return self.latest_by_term(
            self.index, "rule", "fired_at", names,
            extra_filters=[{"terms": {"status": ["fired", "digested"]}},
                           {"term": {"doc_type": "alert"}}],
        )

    def latest_by_term(
        self,
        index: str,
        field: str,
        time_field: str,
        values: Sequence[str] | None,
        *,
        extra_filters: Sequence[dict[str, Any]] = (),
    ) -> dict[str, datetime]:
        """The newest `time_field` per value of `field` (all values when `values` is None).

        A terms aggregation with a one-hit `top_hits` rather than `max`: the embedded server's
        `max` on a date field answers null, `top_hits` sorted on the field works on both servers.
        """
        filters = list(extra_filters)
        if values is not None:
            filters.append({"terms": {field: list(values)}})
        size = len(values) if values is not None else 10000
        try:
            answer = self._call(
                "latest", self.es.search, index=index, size=0,
                query={"bool": {"filter": filters}} if filters else {"match_all": {}},
                aggs={"by": {"terms": {"field": field, "size": max(1, size)},
                             "aggs": {"newest": {"top_hits": {
                                 "size": 1, "sort": [{time_field: "desc"}],
                                 "_source": [time_field]}}}}},
            )
        except NotFoundError:  # no index yet: nothing was ever seen
            return {}
        latest: dict[str, datetime] = {}
        for bucket in answer.get("aggregations", {}).get("by", {}).get("buckets", []):
            hits = bucket["newest"]["hits"]["hits"]
            value = hits[0]["_source"].get(time_field) if hits else None
            if value:
                latest[str(bucket["key"])] = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return latest
