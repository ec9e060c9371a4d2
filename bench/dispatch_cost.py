"""Dispatch cost: the CPU a login spends recording and publishing its post-login jobs.

An in-process micro-benchmark of ``postlogin.dispatch`` for a signup (two jobs: the welcome
email and the avatar), against PostgreSQL and SQLite, publishing to Redis when it answers
(else kombu's in-memory transport), and to kombu's in-memory transport for reference (the
cost of Celery and kombu without any network):

- ``record``: ``record_jobs(event)`` in a transaction: one bulk INSERT (rows already
  ``queued``), one SELECT of the IDs;
- ``publish``: ``publish_recorded(recorded)``: one ``run_job`` message per job;
- ``dispatch``: ``dispatch(event)`` in ``transaction.atomic()``, publishing on commit: what a
  login pays, commit included;
- ``user_insert``: one ``User`` row in a transaction, for scale.

Each scenario runs in interleaved rounds; reported per login: median over rounds of the mean
CPU time (``time.process_time``, this process only: the database server's own CPU is not in
it) and wall time, in microseconds. Each database runs in a child process of its own.
``--profile`` also writes a pyinstrument profile of ``dispatch`` to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import common

SCENARIOS = ("record", "publish", "dispatch", "user_insert")


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside the child process: Django on ``args.database_url``."""
    workdir = Path(args.workdir)
    common.setup_django(
        common.django_environment(
            database_url=args.database_url, broker=args.broker_url, var_dir=workdir
        )
    )
    from celery import current_app
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from postlogin import dispatch
    from postlogin import publish as publishing
    from postlogin.breaker import publish_breaker
    from postlogin.events import LoginEvent, ProviderProfile

    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    counter = iter(range(10**9))

    def new_users(n: int) -> list[int]:
        start = next(counter) * 100_000
        names = [f"u{start + i}" for i in range(n)]
        user_model.objects.bulk_create([user_model(username=name) for name in names])
        return list(
            user_model.objects.filter(username__in=names)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def event(user_id: int) -> LoginEvent:
        return LoginEvent(
            user_id=user_id,
            provider="oidc",
            is_new=True,
            profile=ProviderProfile(
                uid=str(user_id),
                email=f"u{user_id}@bench.example",
                email_verified=True,
                name="Bench",
                avatar_url=f"http://127.0.0.1:9/avatars/u{user_id}.png",
            ),
        )

    def timed(
        body: Callable[[int], None], n: int, prepare: Callable[[int], Any]
    ) -> tuple[float, float]:
        """Mean CPU and wall time of ``body`` over n logins, in µs; ``prepare`` is not timed."""
        cpu = wall = 0.0
        for user_id in new_users(n):
            argument = prepare(user_id)
            c0, w0 = time.process_time(), time.perf_counter()
            body(argument)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        return cpu / n * 1e6, wall / n * 1e6

    def record(ev: LoginEvent) -> None:
        with transaction.atomic():
            dispatch.record_jobs(ev)

    def recorded(user_id: int) -> publishing.Recorded:
        with transaction.atomic():
            return dispatch.record_jobs(event(user_id))

    def publish(jobs: publishing.Recorded) -> None:
        sent = publishing.publish_recorded(jobs)
        assert sent == jobs.ids, "publish failed; is the broker answering?"

    def full(ev: LoginEvent) -> None:
        with transaction.atomic():
            dispatch.dispatch(ev)

    names = iter(range(10**9))

    def user_insert(_: None) -> None:
        with transaction.atomic():
            user_model.objects.create(username=f"ref{next(names)}")

    bodies: dict[str, tuple[Callable[[Any], None], Callable[[int], Any]]] = {
        "record": (record, event),
        "publish": (publish, recorded),
        "dispatch": (full, event),
        "user_insert": (user_insert, lambda user_id: None),
    }
    publish_breaker.record_success()
    # Warm up every path (imports, connections, the broker's queue declaration).
    for body, prepare in bodies.values():
        timed(body, 20, prepare)
    cpu: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    wall: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for round_ in range(args.rounds):
        shift = round_ % len(SCENARIOS)
        for name in SCENARIOS[shift:] + SCENARIOS[:shift]:
            body, prepare = bodies[name]
            c, w = timed(body, args.logins, prepare)
            cpu[name].append(c)
            wall[name].append(w)
    profile_path = None
    if args.profile_path:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        timed(full, args.logins, event)
        profiler.stop()
        profile_path = Path(args.profile_path)
        profile_path.write_text(profiler.output_text(unicode=True, show_all=False))
    broker = current_app.connection_for_write().transport_cls
    connection.close()
    return {
        "database": connection.vendor,
        "broker": str(broker),
        "scenarios": {
            name: {
                "cpu_us": round(statistics.median(cpu[name]), 1),
                "wall_us": round(statistics.median(wall[name]), 1),
                "cpu_us_rounds": [round(x, 1) for x in cpu[name]],
            }
            for name in SCENARIOS
        },
        "profile": str(profile_path) if profile_path else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="CPU cost of dispatching one login's jobs.")
    parser.add_argument("--logins", type=int, default=200, help="logins per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--profile", action="store_true", help="also write pyinstrument profiles")
    # Internal: one database, in a child process.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--broker-url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--profile-path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return {}
    common.stop_on_sigterm()
    services = common.detect_services()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="postlogin-bench-") as tmp:
        workdir = Path(tmp)
        brokers = (
            [services.redis_url or "memory://", "memory://"]
            if services.redis_url
            else ["memory://"]
        )
        databases: list[tuple[str, Any]] = []
        if services.postgres_url:
            databases.append(("postgresql", services))
        databases.append(("sqlite", common.Services(None, None, None, None)))
        for label, db_services in databases:
            for broker in brokers:
                name = "postlogin_bench_dispatch"
                with common.bench_database(db_services, name, workdir) as database_url:
                    if broker.startswith("redis"):
                        common.purge_queue(broker, common.TASK_QUEUE)
                    profile = (
                        args.results / f"dispatch_profile_{label}_{broker.split(':')[0]}.txt"
                        if args.profile
                        else None
                    )
                    command = [
                        sys.executable,
                        "-m",
                        "bench.dispatch_cost",
                        "--child",
                        f"--logins={args.logins}",
                        f"--rounds={args.rounds}",
                        f"--database-url={database_url}",
                        f"--broker-url={broker}",
                        f"--workdir={workdir}",
                    ]
                    if profile:
                        command.append(f"--profile-path={profile}")
                    child = subprocess.Popen(
                        command, cwd=common.ROOT, stdout=subprocess.PIPE, start_new_session=True
                    )
                    try:
                        out, _ = child.communicate(timeout=600)
                    finally:
                        common.stop_process_group(child, timeout=5)
                    if broker.startswith("redis"):
                        common.purge_queue(broker, common.TASK_QUEUE)
                    if child.returncode != 0:
                        raise RuntimeError(f"dispatch_cost child for {label} failed")
                    run = json.loads(out.decode().strip().splitlines()[-1])
                    run["broker"] = (
                        services.broker if broker.startswith("redis") else "kombu memory://"
                    )
                    run["database"] = services.database if label == "postgresql" else "sqlite"
                    runs.append(run)
                    print(f"dispatch_cost: {json.dumps(run)}", file=sys.stderr)
    result = {
        "machine": common.machine_info(services),
        "params": {
            "logins_per_scenario_and_round": args.logins,
            "rounds": args.rounds,
            "jobs_per_login": 2,
            "unit": "microseconds per login; median over rounds of the round's mean",
        },
        "runs": runs,
    }
    common.write_json(args.results / "dispatch_cost.json", result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    common.run_main(main, "dispatch_cost")
