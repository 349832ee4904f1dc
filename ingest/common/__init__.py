"""Plumbing every newswatch process shares: settings, clients, topics, logging, metrics serving,
YAML config loading.
"""
