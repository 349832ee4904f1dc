"""WebSub push: hub discovery, subscriptions and their leases, the signed callback, fallback to
polling.
"""
