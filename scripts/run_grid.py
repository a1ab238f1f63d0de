#!/usr/bin/env python
"""Run the study grid and write its dataset (see `python scripts/run_grid.py --help`)."""
import sys

from relustudy.runs.cli import main

if __name__ == "__main__":
    sys.exit(main())
