"""Dead letters: what the worker cannot process goes to `news.dlq` with its origin; operators list
and replay them.
"""
