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

from tests.support.processes import stop_process_group

from . import common, dispatch_cost, prune_cost, worker_throughput
from .login import report

BENCHMARKS = ("dispatch_cost", "worker_throughput", "login_latency", "prune_cost")
QUICK = {
    "dispatch_cost": ["--logins", "50", "--rounds", "2"],
    "worker_throughput": ["--jobs", "100"],
    "login_latency": ["--logins", "40", "--rounds", "2"],
    "prune_cost": ["--rows", "20000", "--users", "500", "--batches", "5", "--rounds", "2"],
}


def machine_lines(machine: dict[str, Any] | None) -> list[str]:
    """One line: the machine, the versions and the services the results came from."""
    if not machine:
        return []
    versions = machine.get("versions", {})
    services = machine.get("services", {})
    return [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}; Python {machine['python']}, Django {versions.get('Django')}, "
        f"Celery {versions.get('celery')}, gunicorn {versions.get('gunicorn')}; "
        f"{services.get('database')}, {services.get('broker')}.",
        "",
    ]


def target_lines(*results: dict[str, Any] | None) -> list[str]:
    """Every target the results check, met or **missed**."""
    checks = [check for result in results for check in (result or {}).get("targets", [])]
    if not checks:
        return []
    lines = ["", "Targets:", ""]
    for check in checks:
        mark = "met" if check["met"] else "**missed**"
        lines.append(f"- {check['target']}: {check['value']} ({mark})")
    return lines


def summary_markdown(
    latency: dict[str, Any] | None,
    worker: dict[str, Any] | None,
    dispatch: dict[str, Any] | None,
    prune: dict[str, Any] | None = None,
) -> str:
    """The README's "Results" tables, from the result files (any may be missing); each
    benchmark renders its own."""
    lines = machine_lines((latency or worker or dispatch or {}).get("machine"))
    if latency:
        lines += report.summary_lines(latency)
    if worker:
        lines += ["", *worker_throughput.summary_lines(worker)]
    if dispatch:
        lines += ["", *dispatch_cost.summary_lines(dispatch)]
    if prune:
        lines += ["", *prune_cost.summary_lines(prune)]
    lines += target_lines(latency, worker)
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
                stop_process_group(child)
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
