"""Running grids and keeping their results: the grid runner and its backends, the dataset and its
schema, content digests, shards, locks, provenance, stored results, the run_grid CLI.
"""
