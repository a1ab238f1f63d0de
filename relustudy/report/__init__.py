"""The generated report: answers Q1, Q2 and the posted answer's claims from the dataset.

``common`` holds the Context, constants and formatting; ``study`` the sections on the
default grid; ``experiments`` those on the named experiments; ``document`` puts them in
order with the summary, methods and provenance.
"""

from .common import EXPERIMENTS, Context, Skip, md_table, pct, pval
from .document import SECTIONS, build, summary

__all__ = ["EXPERIMENTS", "SECTIONS", "Context", "Skip", "build", "md_table", "pct", "pval", "summary"]
