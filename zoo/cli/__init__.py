"""The ``zoo`` command line. Commands register themselves on ``app`` when their module is imported."""

from . import _bench, _catalog, _compress, _export, _generate, _inspect, _predict, _share, _train  # noqa: F401  (command registration)
from ._app import app, main, run

__all__ = ["app", "main", "run"]
