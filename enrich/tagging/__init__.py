"""Topic tagging: the taxonomy, term matching in every script, mention context, language, and the
tagging evaluation.
"""
