"""The login latency report: the result JSON's shape, the raw samples (CSV), the latency plot,
and the summary's tables (``bench/results/summary.md``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .client import Sample
from .variants import COLORS


def params(args: Any, warm_up: dict[str, Any], measured_seconds: float) -> dict[str, Any]:
    """The run's parameters, as recorded beside its results."""
    return {
        "logins_per_variant": args.logins,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "server": f"gunicorn, {args.workers} sync workers per variant, --preload",
        "avatar_delay_s": args.avatar_delay,
        "provider": "bench/fake_idp.py (OpenID Connect, RS256 ID token, PKCE)",
        "every_login": "a new user (signup): welcome email + avatar",
        "warm_up": warm_up,
        "measured_seconds": measured_seconds,
        "latency": "client-side, ms; percentiles of successful logins",
        "targets_use": (
            "/complete/ request; outage variants: logins that started after every web "
            "process had tripped its breaker"
        ),
    }


def write_samples(path: Path, samples: Sequence[Sample]) -> None:
    """Every login, one CSV row each (the columns are :class:`Sample`'s fields)."""
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(Sample)])
        writer.writeheader()
        for sample in samples:
            writer.writerow(asdict(sample))


def plot(path: Path, samples: Sequence[Sample], variants: Sequence[str], title: str) -> None:
    """Latency distributions (empirical CDFs, log time axis) of /complete/ and the login."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for axis, metric, label in (
        (axes[0], "complete_ms", "/complete/ request (ms)"),
        (axes[1], "login_ms", "whole login: begin POST through /complete/ (ms)"),
    ):
        for variant in variants:
            values = sorted(getattr(s, metric) for s in samples if s.variant == variant and s.ok)
            if not values:
                continue
            fractions = [(i + 1) / len(values) for i in range(len(values))]
            axis.step(values, fractions, where="post", label=variant, color=COLORS[variant])
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.axhline(0.99, color="#bbbbbb", linewidth=0.8, linestyle=":")
        axis.axhline(0.50, color="#bbbbbb", linewidth=0.8, linestyle=":")
        axis.grid(True, which="both", axis="x", color="#eeeeee")
    axes[0].set_ylabel("fraction of logins at or below")
    axes[1].legend(loc="lower right")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _x(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def latency_lines(latency: dict[str, Any]) -> list[str]:
    """The summary's login latency table: one row per variant."""
    run = latency["params"]
    lines = [
        f"Login latency ({run['logins_per_variant']} logins per variant, concurrency "
        f"{run['concurrency']}, {run['rounds']} interleaved rounds, {run['server']}, "
        f"avatar host {run['avatar_delay_s']:g} s; milliseconds, client side):",
        "",
        "| variant | /complete/ p50 | p95 | p99 | whole login p50 | p99 | failed "
        "| p50 vs bare | p99 vs bare |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, v in latency["variants"].items():
        ratios = v.get("ratio_to_bare", {})
        lines.append(
            f"| {name} | {_ms(v['complete_ms']['p50'])} | {_ms(v['complete_ms']['p95'])} | "
            f"{_ms(v['complete_ms']['p99'])} | {_ms(v['login_ms']['p50'])} | "
            f"{_ms(v['login_ms']['p99'])} | {v['failed']} | "
            f"{_x(ratios.get('complete_ms_p50'))} | {_x(ratios.get('complete_ms_p99'))} |"
        )
    return lines


def outage_lines(latency: dict[str, Any]) -> list[str]:
    """The summary's broker outage table (none when no outage variant ran)."""
    outages = {k: v for k, v in latency["variants"].items() if "breaker" in v}
    if not outages:
        return []
    lines = [
        "",
        "Broker outages, /complete/ p99 by what the circuit breaker did (ms):",
        "",
        "| variant | all logins | after every process tripped | breaker open "
        "| after trip vs bare p99 | logins that tried the broker | their publish p50 |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, v in outages.items():
        b = v["breaker"]
        lines.append(
            f"| {name} | {_ms(v['complete_ms']['p99'])} | "
            f"{_ms(b['complete_ms_after_trip']['p99'])} | "
            f"{_ms(b['complete_ms_breaker_open']['p99'])} | "
            f"{_x(v.get('ratio_to_bare', {}).get('complete_ms_p99_after_trip'))} | "
            f"{b['probe_logins']} | {_ms(b['probe_publish_ms']['p50'])} |"
        )
    return lines


def summary_lines(latency: dict[str, Any]) -> list[str]:
    """The summary's login latency tables."""
    return latency_lines(latency) + outage_lines(latency)
