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
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import common

if TYPE_CHECKING:
    from postlogin.events import LoginEvent
    from postlogin.publish import Recorded

SCENARIOS = ("record", "publish", "dispatch", "user_insert")
T = TypeVar("T")


class Logins:
    """New users and their login events, and the four scenarios' bodies, each with the
    untimed step that prepares its argument. Needs Django set up and migrated."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        self.user_model = get_user_model()
        self._batches = iter(range(10**9))
        self._references = iter(range(10**9))

    def new_users(self, n: int) -> list[int]:
        """``n`` new users' IDs, in a bulk INSERT that is not timed."""
        start = next(self._batches) * 100_000
        names = [f"u{start + i}" for i in range(n)]
        self.user_model.objects.bulk_create([self.user_model(username=name) for name in names])
        return list(
            self.user_model.objects.filter(username__in=names)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    @staticmethod
    def event(user_id: int) -> LoginEvent:
        """A signup with an email and a picture: two jobs (welcome email, avatar)."""
        from postlogin.events import LoginEvent, ProviderProfile

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

    @staticmethod
    def record(event: LoginEvent) -> None:
        from django.db import transaction

        from postlogin import dispatch

        with transaction.atomic():
            dispatch.record_jobs(event)

    def recorded(self, user_id: int) -> Recorded:
        from django.db import transaction

        from postlogin import dispatch

        with transaction.atomic():
            return dispatch.record_jobs(self.event(user_id))

    @staticmethod
    def publish(jobs: Recorded) -> None:
        from postlogin import publish

        sent = publish.publish_recorded(jobs)
        assert sent == jobs.ids, "publish failed; is the broker answering?"

    @staticmethod
    def dispatch(event: LoginEvent) -> None:
        from django.db import transaction

        from postlogin import dispatch

        with transaction.atomic():
            dispatch.dispatch(event)

    def user_insert(self, _: None) -> None:
        from django.db import transaction

        with transaction.atomic():
            self.user_model.objects.create(username=f"ref{next(self._references)}")

    def timed(
        self, body: Callable[[T], None], n: int, prepare: Callable[[int], T]
    ) -> tuple[float, float]:
        """Mean CPU and wall time of ``body`` over n logins, in µs; ``prepare`` is not timed."""
        cpu = wall = 0.0
        for user_id in self.new_users(n):
            argument = prepare(user_id)
            c0, w0 = time.process_time(), time.perf_counter()
            body(argument)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        return cpu / n * 1e6, wall / n * 1e6

    def time_scenario(self, name: str, n: int) -> tuple[float, float]:
        """:meth:`timed` for one of :data:`SCENARIOS`."""
        if name == "record":
            return self.timed(self.record, n, self.event)
        if name == "publish":
            return self.timed(self.publish, n, self.recorded)
        if name == "dispatch":
            return self.timed(self.dispatch, n, self.event)
        return self.timed(self.user_insert, n, lambda user_id: None)


def interleaved_rounds(
    logins: Logins, rounds: int, n: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each round times every scenario, in an order that rotates each round; the rounds' CPU
    and wall means per scenario (µs per login)."""
    cpu: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    wall: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for round_ in range(rounds):
        shift = round_ % len(SCENARIOS)
        for name in SCENARIOS[shift:] + SCENARIOS[:shift]:
            c, w = logins.time_scenario(name, n)
            cpu[name].append(c)
            wall[name].append(w)
    return cpu, wall


def profile_dispatch(logins: Logins, n: int, path: Path) -> None:
    """A pyinstrument profile of ``n`` dispatches, as text at ``path``."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    logins.timed(logins.dispatch, n, logins.event)
    profiler.stop()
    path.write_text(profiler.output_text(unicode=True, show_all=False))


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside the child process: Django on ``args.database_url``; warm every path
    (imports, connections, the broker's queue declaration), then time the rounds."""
    common.setup_django(
        common.django_environment(
            database_url=args.database_url, broker=args.broker_url, var_dir=Path(args.workdir)
        )
    )
    from celery import current_app
    from django.core.management import call_command
    from django.db import connection

    from postlogin.breaker import publish_breaker

    call_command("migrate", verbosity=0, interactive=False)
    logins = Logins()
    publish_breaker.record_success()
    for name in SCENARIOS:
        logins.time_scenario(name, 20)
    cpu, wall = interleaved_rounds(logins, args.rounds, args.logins)
    if args.profile_path:
        profile_dispatch(logins, args.logins, Path(args.profile_path))
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
        "profile": args.profile_path,
    }


def summary_lines(dispatch: dict[str, Any]) -> list[str]:
    """The summary's dispatch cost table: one row per database and broker."""
    lines = [
        "Dispatch cost per login (2 jobs; CPU of the web process, microseconds; wall in brackets):",
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
    return lines


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


def combinations(services: common.Services) -> list[tuple[str, common.Services, str]]:
    """Every (database label, services, broker URL) to measure: PostgreSQL when it answers,
    then SQLite; each with Redis when it answers, then kombu's in-memory transport."""
    brokers = [services.redis_url, "memory://"] if services.redis_url else ["memory://"]
    databases = [("postgresql", services)] if services.postgres_url else []
    databases.append(("sqlite", common.Services(None, None, None, None)))
    return [(label, db, broker) for label, db in databases for broker in brokers]


def child_command(
    args: argparse.Namespace, database_url: str, broker: str, workdir: Path, profile: Path | None
) -> list[str]:
    """The command line of the child that measures one database and broker."""
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
    return command


def measure_in_child(
    args: argparse.Namespace, label: str, db_services: common.Services, broker: str, workdir: Path
) -> dict[str, Any]:
    """One database and broker, in a child process on a fresh database; its run, as the child
    printed it (the last line of its output). A Redis queue is purged before and after."""
    profile = None
    if args.profile:
        profile = args.results / f"dispatch_profile_{label}_{broker.split(':')[0]}.txt"
    with common.bench_database(db_services, "postlogin_bench_dispatch", workdir) as database_url:
        if broker.startswith("redis"):
            common.purge_queue(broker, common.TASK_QUEUE)
        try:
            return common.run_json_child(
                child_command(args, database_url, broker, workdir, profile),
                timeout=600,
                name=f"dispatch_cost child for {label}",
            )
        finally:
            if broker.startswith("redis"):
                common.purge_queue(broker, common.TASK_QUEUE)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return {}
    common.stop_on_sigterm()
    services = common.detect_services()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="postlogin-bench-") as tmp:
        for label, db_services, broker in combinations(services):
            run = measure_in_child(args, label, db_services, broker, Path(tmp))
            run["broker"] = services.broker if broker.startswith("redis") else "kombu memory://"
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
