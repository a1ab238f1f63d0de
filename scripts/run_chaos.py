#!/usr/bin/env python
"""Outcome flips under tiny perturbations of the initial weights (issue 10, part 3)."""
import sys

from relustudy.experiments.chaos import main

if __name__ == "__main__":
    sys.exit(main())
