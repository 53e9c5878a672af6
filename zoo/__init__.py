"""zoo: a plugin-based model zoo and registry for PyTorch.

The command line is ``zoo``; the library surface below is what the CLI and
plugins' tests use. Importing this package does not import torch.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
