"""relustudy: why a tiny ReLU network sometimes never learns to add two numbers."""
from relustudy.version import __version__
from relustudy.core.config import Cell
from relustudy.core.train import TrainResult, evaluate, train, train_group
from relustudy.runs.dataset import load_curves, load_runs

__all__ = ["Cell", "TrainResult", "evaluate", "train", "train_group", "load_runs", "load_curves", "__version__"]
