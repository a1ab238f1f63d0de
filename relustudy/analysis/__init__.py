"""Analyses of the runs tables: per-cell rates and paired comparisons, the vocabulary, mechanisms,
the optimizer decompositions, the theory check.
"""
