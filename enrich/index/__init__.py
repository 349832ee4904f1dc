"""The articles index: bulk writes, the date rule, rollover, mapping migration, re-enrichment of
stored documents.
"""
