"""enrich: the consumer-group workers that turn Article messages into searchable documents.

* `enrich.worker` — the consumer loop, the checkpoint that orders a batch's safety, the
  enricher, metrics, lag;
* `enrich.tagging` — topics: taxonomy, term matching in every script, the decision model;
* `enrich.entities` — people and places from the gazetteers;
* `enrich.dedup` — near-duplicate clusters across workers;
* `enrich.index` — the articles index: bulk writes, rollover, mapping migration, reprocess;
* `enrich.search` — analyst search, statistics and freshness reports;
* `enrich.alerts` — rules, the alert engine and its delivery channels;
* `enrich.dlq` — dead letters and their replay.

enrich reads the message contract of `ingest.message` and never imports flows; see
ARCHITECTURE.md.
"""
