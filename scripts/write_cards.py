#!/usr/bin/env python
"""Write each dataset folder's card (its README.md) from the folder's own files; trains nothing.

    python scripts/write_cards.py                 # every dataset folder under data/
    python scripts/write_cards.py data/mine       # given folders
"""
import sys

from relustudy.runs.cards import main

if __name__ == "__main__":
    sys.exit(main())
