"""Alert rules: alerts.yaml, the compiled ruleset, keyword matching over an article, snippets,
reload on change.
"""
