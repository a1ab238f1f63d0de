#!/usr/bin/env python
"""Regenerate reports/REPORT.md and reports/figures/ from the dataset. See --help."""
import sys

from relustudy.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
