"""The Article message on `news.articles`: the contract enrich reads, its id, how it is built and
produced.
"""
