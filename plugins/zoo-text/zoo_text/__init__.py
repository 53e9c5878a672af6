"""zoo-text: a zoo plugin. The registry reads its declarations from ``zoo_text._plugin``."""

__version__ = "0.1.0"

__all__ = ["__version__"]
