"""The accelerate-backed runner: train, evaluate and load entries.

Importing this package imports torch; the metadata commands never do.
"""

from ._load import LoadedEntry, load_entry, require_weights
from ._run import evaluate_entry, latest_run_dir, train_entry

__all__ = ["LoadedEntry", "evaluate_entry", "latest_run_dir", "load_entry", "require_weights", "train_entry"]
