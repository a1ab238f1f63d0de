import sys
from pathlib import Path

# The posted program's transcription lives beside the tests; make it importable.
sys.path.insert(0, str(Path(__file__).parent))
