"""Article text: trafilatura in a supervised process pool, extraction drift, and the extraction
evaluation.
"""
