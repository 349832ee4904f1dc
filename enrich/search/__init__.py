"""Analyst search: per-language fields, queries, expansion across scripts, statistics, freshness
reports.
"""
