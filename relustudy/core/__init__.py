"""The model and its training: factors and registries, the shared IEEE math, inits, activations, tasks,
outcomes, the training engines and ``train``. Imports nothing else of the package.
"""
