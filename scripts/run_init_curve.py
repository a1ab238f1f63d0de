#!/usr/bin/env python
"""Learning curve of init-only failure prediction on data/million (issue 16, part 1)."""
import sys

from relustudy.experiments.init_curve import main

if __name__ == "__main__":
    sys.exit(main())
