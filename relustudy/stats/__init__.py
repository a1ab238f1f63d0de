"""Statistics as pure functions of arrays: proportions and their CIs, multiple testing, paired and
unpaired tests, bootstrap intervals, curve statistics. Imports nothing else of the package.
"""
