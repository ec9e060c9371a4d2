"""What a run's samples say: per-variant percentiles, the circuit breaker's view of the outage
variants, ratios to ``bare``, and the targets. Pure: no I/O, no Django."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..stats import ratio, summarize
from .client import Sample
from .variants import BROKER_OUTAGES


def _finished(sample: Sample) -> float:
    return sample.started_s + (sample.login_ms or 0) / 1000


def breaker_view(samples: Sequence[Sample]) -> dict[str, Any]:
    """Split an outage variant's logins by what the circuit breaker did for them.

    The breaker is per process. "Tripped" is the moment the last web process that tried the
    broker got its first failure; logins that started after it are "after the trip" (those
    that started before it include the ones that queued behind a process blocked on the
    broker). A "probe" is any login that tried the broker; the others found the breaker open.
    """
    ok = [s for s in samples if s.ok]
    first_failure: dict[int | None, float] = {}
    for sample in sorted(ok, key=_finished):
        if sample.publish_failures and sample.pid not in first_failure:
            first_failure[sample.pid] = _finished(sample)
    tripped_at = max(first_failure.values()) if first_failure else None
    after = [s for s in ok if tripped_at is not None and s.started_s > tripped_at]
    probes = [s for s in ok if s.publish_attempts]
    skipped = [s for s in ok if not s.publish_attempts]
    return {
        "tripped_at_s": tripped_at,
        "processes_tripped": len(first_failure),
        "logins_before_trip": len(ok) - len(after),
        "complete_ms_after_trip": summarize(s.complete_ms for s in after),
        "complete_ms_breaker_open": summarize(s.complete_ms for s in skipped),
        "probe_logins": len(probes),
        "probe_logins_failed_publish": sum(1 for s in probes if s.publish_failures),
        "probe_complete_ms": summarize(s.complete_ms for s in probes),
        "probe_publish_ms": summarize(s.publish_ms for s in probes),
    }


def variant_summary(samples: Sequence[Sample]) -> dict[str, Any]:
    """Percentiles of one variant's successful logins, and its failures."""
    ok = [s for s in samples if s.ok]
    published = [s for s in ok if s.publish_attempts]
    summary: dict[str, Any] = {
        "logins": len(samples),
        "failed": len(samples) - len(ok),
        "complete_ms": summarize(s.complete_ms for s in ok),
        "login_ms": summarize(s.login_ms for s in ok),
        "server_ms": summarize(s.server_ms for s in ok),
        "server_cpu_ms": summarize(s.server_cpu_ms for s in ok),
        "logins_that_published": len(published),
        "publish_ms": summarize(s.publish_ms for s in published),
    }
    errors = sorted({s.error for s in samples if s.error})
    if errors:
        summary["errors"] = errors[:10]
    return summary


def ratios_to_bare(summary: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    """A variant's percentiles over ``bare``'s; for an outage, also its p99s by breaker case."""
    ratios = {
        f"{metric}_{q}": ratio(summary[metric][q], bare[metric][q])
        for metric in ("complete_ms", "login_ms")
        for q in ("p50", "p95", "p99")
    }
    breaker = summary.get("breaker")
    if breaker is not None:
        for case in ("after_trip", "breaker_open"):
            ratios[f"complete_ms_p99_{case}"] = ratio(
                breaker[f"complete_ms_{case}"]["p99"], bare["complete_ms"]["p99"]
            )
    return ratios


def summarize_run(samples: Sequence[Sample], variants: Sequence[str]) -> dict[str, Any]:
    """``{variant: summary}`` with ratios to ``bare``, and the outage variants' breaker view."""
    by_variant = {v: [s for s in samples if s.variant == v] for v in variants}
    result = {v: variant_summary(by_variant[v]) for v in variants}
    for variant in variants:
        if variant in BROKER_OUTAGES:
            result[variant]["breaker"] = breaker_view(by_variant[variant])
    bare = result.get("bare")
    if bare is not None:
        for summary in result.values():
            summary["ratio_to_bare"] = ratios_to_bare(summary, bare)
    return result


def targets(variants: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, on the /complete/ request (the one that carries post-login work)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: float, above: bool = False) -> None:
        met = value is not None and (value > limit if above else value <= limit)
        checks.append({"target": name, "value": value, "limit": limit, "met": met})

    offload = variants.get("offload")
    if offload and "ratio_to_bare" in offload:
        check("offload p50 / bare p50 <= 1.10", offload["ratio_to_bare"]["complete_ms_p50"], 1.10)
        check("offload p99 / bare p99 <= 1.25", offload["ratio_to_bare"]["complete_ms_p99"], 1.25)
    inline = variants.get("inline")
    if inline:
        check("inline p50 > 2000 ms", inline["complete_ms"]["p50"], 2000.0, above=True)
    for name in BROKER_OUTAGES:
        outage = variants.get(name)
        if outage and "ratio_to_bare" in outage:
            check(f"{name}: failed logins == 0", outage["failed"], 0)
            check(
                f"{name}: p99 after the breaker tripped / bare p99 <= 1.25",
                outage["ratio_to_bare"]["complete_ms_p99_after_trip"],
                1.25,
            )
    return checks
