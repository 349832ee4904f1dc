"""The `newswatch` command line. Command names and flags are a contract: keep them.
"""
