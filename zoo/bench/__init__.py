"""``zoo bench``: speed, memory and size of an entry's model in every variant, side by side.

Importing this package imports torch.
"""

from ._bench import BenchResult, BenchSettings, VariantResult, bench_entry
from ._report import as_json, conditions, markdown, table, unavailable, write_card
from ._stats import Summary
from ._variants import VARIANTS

__all__ = ["BenchResult", "BenchSettings", "Summary", "VARIANTS", "VariantResult", "as_json", "bench_entry",
           "conditions", "markdown", "table", "unavailable", "write_card"]
