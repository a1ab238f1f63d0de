"""The generated report: answers Q1, Q2 and the posted answer's claims from the dataset.

:mod:`.document` puts the studies of :data:`relustudy.studies.STUDIES` in order with the
answers, glossary, methods, references and provenance; :mod:`.cli` is ``make_report.py``.
"""
