"""Seaborn figures: each takes a long-form DataFrame and column names and returns its Axes or Figure.
"""
