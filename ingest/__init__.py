"""ingest: from a feed to an Article message on Kafka. One folder per stage:

* `ingest.feeds` — the feed registry: feeds.yaml, per-feed state and health, schedules, leases,
  feed parsing, OPML;
* `ingest.fetch` — fetching what strangers control: address guard, bounded HTTP, robots.txt;
* `ingest.extract` — article text: trafilatura in a supervised process pool;
* `ingest.websub` — push instead of poll: WebSub subscriptions and the signed callback;
* `ingest.poll` — a poll run: due feeds, new entries, pages, Articles produced;
* `ingest.message` — the Article message: the contract enrich reads, its id, its producer;
* `ingest.common` — plumbing every process shares (settings, clients, topics, logging, config).

The import direction (flows → enrich | infra → ingest) is enforced by `make lint`; see
ARCHITECTURE.md.
"""
