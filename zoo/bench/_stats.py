"""Summaries of repeated measurements: median and spread."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Summary:
    """Median, quartiles and range of repeated measurements of one quantity."""

    median: float
    p25: float
    p75: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> "Summary":
        if not values:
            raise ValueError("no measurements to summarize")
        ordered = sorted(values)
        if len(ordered) == 1:
            p25 = p75 = ordered[0]
        else:
            p25, _, p75 = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(median=statistics.median(ordered), p25=p25, p75=p75, min=ordered[0], max=ordered[-1],
                   n=len(ordered))

    @property
    def spread(self) -> float:
        """Half the interquartile range, so that median ± spread covers the middle half of the runs."""
        return (self.p75 - self.p25) / 2

    def scaled(self, factor: float) -> "Summary":
        return Summary(self.median * factor, self.p25 * factor, self.p75 * factor, self.min * factor,
                       self.max * factor, self.n)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
