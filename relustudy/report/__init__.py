"""The generated report: answers Q1, Q2 and the posted answer's claims from the dataset.

``common`` holds the Context, constants and formatting; ``document`` puts the studies of
:data:`relustudy.studies.STUDIES` in order with the answers, glossary, methods, references
and provenance.
"""

from relustudy.studies.common import EXPERIMENTS, Context, Skip, md_table, pct, pval
from relustudy.report.document import build

__all__ = ["EXPERIMENTS", "Context", "Skip", "build", "md_table", "pct", "pval"]
