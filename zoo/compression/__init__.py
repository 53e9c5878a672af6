"""Compression of stored entries: ``zoo compress`` builds a new entry from a base entry and compressor steps.

Importing this package imports torch; the compressors themselves come from
plugins (first-party: zoo-compress) through the registry.
"""

from ._compress import Compressed, compress, evaluate
from ._context import CompressContext, resolve_with_weights
from ._measure import Speed, measure_speed, nonzero_count, weight_count
from ._plan import Plan, StepRequest, parse_arguments, plan_compression
from ._report import Row, table_rows

__all__ = ["CompressContext", "Compressed", "Plan", "Row", "Speed", "StepRequest", "compress", "evaluate",
           "measure_speed", "nonzero_count", "parse_arguments", "plan_compression", "resolve_with_weights",
           "table_rows", "weight_count"]
