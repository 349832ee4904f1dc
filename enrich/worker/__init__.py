"""The enrichment worker: the consumer loop, the checkpoint that orders a batch's safety, the
enricher, metrics, lag.
"""
