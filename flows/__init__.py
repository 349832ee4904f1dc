"""Prefect flows, the command line and the service supervisor: the top of the import graph
(nothing imports flows)."""
