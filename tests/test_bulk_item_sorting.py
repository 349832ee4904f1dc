"""Every bulk item lands in exactly one bucket; busy is retried, bad is dead-lettered."""

from enrich.index.article_index import BulkOutcome, _sort_item


def item(doc_id: str, status: int, error: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"_id": doc_id, "status": status}
    if error:
        body["error"] = {"type": error, "reason": "because"}
    return {"index": body}


def test_bulk_items_are_told_apart() -> None:
    outcome = BulkOutcome()
    _sort_item(True, item("ok", 201), outcome)
    _sort_item(False, item("busy", 429, "es_rejected_execution_exception"), outcome)
    _sort_item(False, item("unwell", 503, "unavailable_shards_exception"), outcome)
    _sort_item(False, item("bad", 400, "document_parsing_exception"), outcome)
    _sort_item(False, item("strict", 400, "strict_dynamic_mapping_exception"), outcome)
    assert outcome.indexed == ["ok"]
    assert [f.doc_id for f in outcome.retryable] == ["busy", "unwell"]
    assert [f.doc_id for f in outcome.rejected] == ["bad", "strict"]
    assert "document_parsing_exception" in outcome.rejected[0].error
    assert outcome.retryable[0].status == 429
