"""``python -m bench`` (``make bench``): every benchmark, then ``bench/results/summary.md``.

Each benchmark runs in a process of its own, one after the other, and stops everything it
started. ``--quick`` runs smaller versions (a smoke test, not numbers to publish).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import common, prune_cost

BENCHMARKS = ("dispatch_cost", "worker_throughput", "login_latency", "prune_cost")
QUICK = {
    "dispatch_cost": ["--logins", "50", "--rounds", "2"],
    "worker_throughput": ["--jobs", "100"],
    "login_latency": ["--logins", "40", "--rounds", "2"],
    "prune_cost": ["--rows", "20000", "--users", "500", "--batches", "5", "--rounds", "2"],
}


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _x(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def summary_markdown(
    latency: dict[str, Any] | None,
    worker: dict[str, Any] | None,
    dispatch: dict[str, Any] | None,
    prune: dict[str, Any] | None = None,
) -> str:
    """The README's "Performance" tables, from the result files (any may be missing)."""
    lines: list[str] = []
    machine = (latency or worker or dispatch or {}).get("machine")
    if machine:
        versions = machine.get("versions", {})
        services = machine.get("services", {})
        lines += [
            f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"{machine['os']}; Python {machine['python']}, Django {versions.get('Django')}, "
            f"Celery {versions.get('celery')}, gunicorn {versions.get('gunicorn')}; "
            f"{services.get('database')}, {services.get('broker')}.",
            "",
        ]
    if latency:
        params = latency["params"]
        lines += [
            f"Login latency ({params['logins_per_variant']} logins per variant, concurrency "
            f"{params['concurrency']}, {params['rounds']} interleaved rounds, {params['server']}, "
            f"avatar host {params['avatar_delay_s']:g} s; milliseconds, client side):",
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
        outages = {k: v for k, v in latency["variants"].items() if "breaker" in v}
        if outages:
            lines += [
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
                    f"{_x(v['ratio_to_bare'].get('complete_ms_p99_after_trip'))} | "
                    f"{b['probe_logins']} | {_ms(b['probe_publish_ms']['p50'])} |"
                )
    if worker:
        r, p = worker["results"], worker["params"]
        lines += [
            "",
            f"Worker throughput ({p['jobs']} avatar jobs, avatar host "
            f"{p['avatar_host_latency_s']:g} s, `{p['worker']}`):",
            "",
            "| wall | ideal | jobs/s | efficiency | worker CPU per job | worker peak RSS |",
            "|--:|--:|--:|--:|--:|--:|",
            f"| {r['wall_seconds']} s | {r['ideal_seconds']} s | {r['jobs_per_second']} | "
            f"{r['efficiency']} | {r['worker_cpu_ms_per_job']} ms | "
            f"{r['worker_peak_rss_mib']} MiB |",
        ]
    if dispatch:
        lines += [
            "",
            "Dispatch cost per login (2 jobs; CPU of the web process, microseconds; wall in "
            "brackets):",
            "",
            "| database | broker | record | publish | dispatch (record + commit + publish) "
            "| one user INSERT |",
            "|---|---|--:|--:|--:|--:|",
        ]
        for run in dispatch["runs"]:
            s = run["scenarios"]
            cells = " | ".join(
                f"{s[n]['cpu_us']:,.0f} ({s[n]['wall_us']:,.0f})"
                for n in ("record", "publish", "dispatch", "user_insert")
            )
            lines.append(f"| {run['database']} | {run['broker']} | {cells} |")
    if prune:
        lines += ["", *prune_cost.summary_lines(prune)]
    if latency or worker:
        lines += ["", "Targets:", ""]
        for check in (latency or {}).get("targets", []) + (worker or {}).get("targets", []):
            mark = "met" if check["met"] else "**missed**"
            lines.append(f"- {check['target']}: {check['value']} ({mark})")
    return "\n".join(lines) + "\n"


def load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="small runs (smoke test)")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    failed = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}")
        command = [sys.executable, "-m", f"bench.{name}", "--results", str(args.results)]
        if args.quick:
            command += QUICK[name]
        print(f"bench: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        started = time.monotonic()
        child = subprocess.Popen(
            command, cwd=common.ROOT, stdout=subprocess.DEVNULL, start_new_session=True
        )
        try:
            code = child.wait()
        finally:
            if child.poll() is None:
                common.stop_process_group(child)
        print(f"bench: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
        if code != 0:
            failed.append(name)
    summary = summary_markdown(
        load(args.results / "login_latency.json"),
        load(args.results / "worker_throughput.json"),
        load(args.results / "dispatch_cost.json"),
        load(args.results / "prune_cost.json"),
    )
    (args.results / "summary.md").write_text(summary)
    print(summary)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
