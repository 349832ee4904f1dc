"""The feed registry: feeds.yaml, per-feed state and health in Elasticsearch, schedules, leases,
feed parsing, OPML.
"""
