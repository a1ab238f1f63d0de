#!/usr/bin/env python
"""Gradient magnitudes per layer along the tanh/sigmoid learning curves (Q1) -> data/q1_gradients/."""
import sys

from relustudy.experiments.gradient_trace import main

if __name__ == "__main__":
    sys.exit(main())
