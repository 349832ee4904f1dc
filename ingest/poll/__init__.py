"""Poll runs: conditional GET of due feeds, new entries, page fetch and extraction, Articles
produced; ingest metrics.
"""
