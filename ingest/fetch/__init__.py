"""Fetching what strangers control: address guard, guarded sockets, bounded HTTP GET, decoding,
politeness, robots.txt.
"""
