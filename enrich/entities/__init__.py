"""People and places: the gazetteers as data and the matcher that finds them in an article.
"""
