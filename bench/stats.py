"""The benchmarks' statistics: percentiles, summaries of a sample, ratios.

Standard library only, so the test suite checks them without the benchmarks' requirements.
Every benchmark reports through these, so "p99" means the same thing in every result file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    The same definition as NumPy's default and ``statistics.quantiles(method="inclusive")``.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def summarize(values: Iterable[float | None], digits: int = 1) -> dict[str, float | int | None]:
    """``{"n", "p50", "p95", "p99", "mean", "max"}`` of the values that are not None."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {
        "n": len(present),
        "p50": round(percentile(present, 50), digits),
        "p95": round(percentile(present, 95), digits),
        "p99": round(percentile(present, 99), digits),
        "mean": round(sum(present) / len(present), digits),
        "max": round(max(present), digits),
    }


def ratio(value: float | int | None, reference: float | int | None) -> float | None:
    """``value / reference`` to three places; None when either is missing or ``reference`` is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return round(float(value) / float(reference), 3)
