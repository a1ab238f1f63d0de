"""relustudy: why a tiny ReLU network sometimes never learns to add two numbers."""
__version__ = "0.1.0"

from .config import Cell
from .train import TrainResult, evaluate, train, train_group

__all__ = ["Cell", "TrainResult", "evaluate", "train", "train_group", "__version__"]
