"""Near-duplicates: MinHash/LSH signatures and the cross-worker cluster lookup through band
pointers.
"""
