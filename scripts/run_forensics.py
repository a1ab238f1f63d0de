#!/usr/bin/env python
"""Replay the posted cell and its variants update by update: how the output unit dies (issue 10)."""
import sys

from relustudy.experiments.forensics import main

if __name__ == "__main__":
    sys.exit(main())
