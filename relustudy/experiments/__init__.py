"""Experiments outside the factorial grid (perturbed inits, forensics, momentum probes, gradient
traces, the init-prediction curve): each runs, stores its tables and reads them back.
"""
