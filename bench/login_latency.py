"""Login latency: django-postlogin against no post-login work, inline work, and broker outages.

Starts the example project under gunicorn once per variant (same settings but the pipeline's
last step and the broker URL), a fast local OpenID Connect provider whose avatar host takes
``--avatar-delay`` seconds per picture, and drives full logins through the real views
(:mod:`bench.login.client`). Every login is a new user, so every login does the most work:
user creation and, for the post-login variants, the welcome email and the avatar.

Variants run in interleaved rounds (the order rotates each round), so machine noise hits them
alike. Before measuring, each server is warmed with logins of returning users that schedule
no work (imports, database connections, the provider's discovery document and keys), so a
broker outage is first met inside the measured logins (:mod:`bench.login.rounds`).

Prints the JSON summary and writes ``bench/results/login_latency.json``,
``login_latency.png`` and ``login_latency_samples.csv``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.sockets import hung_server, unused_port

from . import common
from .login import report, servers
from .login.client import LoginClient, Sample
from .login.cpu import CpuMeter, cpu_summary
from .login.rounds import Rounds, job_states, warm_up
from .login.summary import summarize_run, targets
from .login.variants import SHORT, VARIANTS, broker_urls


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Login latency of django-postlogin against the alternatives."
    )
    parser.add_argument("--logins", type=int, default=300, help="logins per variant (300)")
    parser.add_argument("--concurrency", type=int, default=16, help="logins at once (16)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers (5)")
    parser.add_argument("--avatar-delay", type=float, default=2.0, help="seconds (2)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop measuring after")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    return args


@dataclass
class Run:
    samples: list[Sample]
    warm_up: dict[str, Any]
    jobs: dict[str, dict[str, int]]
    measured_seconds: float
    cpu: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    """Where a run happens: its children, scratch directory, database, and each variant's
    broker (:func:`bench.login.variants.broker_urls`)."""

    children: common.Children
    workdir: Path
    database_url: str
    brokers: dict[str, str]

    @property
    def broker(self) -> str:
        """The run's broker, the one that answers."""
        return self.brokers["offload"]

    def environment(self, variant: str = "offload", **extra: str) -> dict[str, str]:
        """The example project's environment for ``variant``, on this run's database."""
        return common.django_environment(
            database_url=self.database_url,
            broker=self.brokers[variant],
            var_dir=self.workdir,
            variant=variant,
            extra=extra,
        )


def serve(args: argparse.Namespace, stage: Stage) -> tuple[int, dict[str, LoginClient]]:
    """Start the provider, set up Django here (migrated, queue purged) and one server per
    variant; the provider's PID and a client for each variant."""
    idp, issuer = servers.start_provider(
        stage.children, stage.environment(), stage.workdir, args.avatar_delay
    )
    oidc = servers.oidc_environment(issuer)
    common.setup_django(stage.environment(**oidc))
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    common.purge_queue(stage.broker, common.TASK_QUEUE)
    environments = {v: stage.environment(v, **oidc) for v in args.variants}
    ports = servers.start_servers(
        stage.children, args.variants, environments, stage.workdir, args.workers
    )
    return idp.pid, {v: LoginClient(ports[v]) for v in args.variants}


def measure(args: argparse.Namespace, stage: Stage) -> Run:
    """Serve every variant, warm each up, measure the rounds, then stop the servers and read
    what the logins left in the ledger."""
    from django.db import connection

    run_id = secrets.token_hex(3)
    provider_pid, clients = serve(args, stage)
    t0 = time.perf_counter()
    warm = {v: warm_up(clients[v], v, args.workers, run_id, t0) for v in args.variants}
    connection.close()
    print(f"login_latency: warmed up {warm}", file=sys.stderr)
    processes = stage.children.processes
    meters = {v: CpuMeter(processes[v].pid, provider_pid) for v in args.variants}
    rounds = Rounds(clients, meters, args.concurrency, run_id, t0)
    seconds = rounds.run(args.variants, args.rounds, args.logins, args.max_seconds)
    for variant in args.variants:
        stage.children.stop(variant)
    jobs = {v: job_states(SHORT[v]) for v in args.variants}
    connection.close()
    common.purge_queue(stage.broker, common.TASK_QUEUE)
    cpu = {v: cpu_summary([c for c in rounds.chunks if c["variant"] == v]) for v in args.variants}
    return Run(rounds.samples, warm, jobs, seconds, cpu)


def write_results(
    args: argparse.Namespace, run: Run, machine: dict[str, Any], services: common.Services
) -> dict[str, Any]:
    """The JSON result (written and returned), the samples' CSV and, unless ``--no-plot``,
    the plot."""
    variants = summarize_run(run.samples, args.variants)
    for variant in args.variants:
        variants[variant]["jobs"] = run.jobs[variant]
        variants[variant].update(run.cpu[variant])
    result: dict[str, Any] = {
        "machine": machine,
        "params": {
            **report.params(args, run.warm_up, run.measured_seconds),
            **services.describe(),
        },
        "variants": variants,
        "targets": targets(variants),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    common.write_json(args.results / "login_latency.json", result)
    report.write_samples(args.results / "login_latency_samples.csv", run.samples)
    if not args.no_plot:
        title = (
            f"django-postlogin login latency: {args.logins} logins per variant, concurrency "
            f"{args.concurrency}, avatar host {args.avatar_delay:g} s; {machine['cpu']}, "
            f"{machine['cores']} cores; {services.database}, {services.broker}"
        )
        report.plot(args.results / "login_latency.png", run.samples, args.variants, title)
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    common.stop_on_sigterm()
    services = common.detect_services()
    machine = common.machine_info(services)
    print(f"login_latency: {services.database}, broker {services.broker}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="postlogin-bench-") as tmp:
        workdir = Path(tmp)
        with (
            common.bench_database(services, "postlogin_bench_login", workdir) as database_url,
            hung_server(backlog=256) as hung_port,
            common.Children() as children,
        ):
            # Children stop first (the innermost context), then the database is dropped.
            broker = common.broker_url(services, workdir)
            brokers = broker_urls(broker, down_port=unused_port(), hung_port=hung_port)
            stage = Stage(children, workdir, database_url, brokers)
            run = measure(args, stage)
    result = write_results(args, run, machine, services)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    common.run_main(main, "login_latency", on_interrupt="interrupted; every process stopped")
