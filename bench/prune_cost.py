"""Prune cost: deleting old jobs from a 1,000,000-row ledger, and what it does to logins.

PostgreSQL only (the pruning is written for it: ``FOR UPDATE SKIP LOCKED``). The ledger is
filled in SQL (``generate_series``): ``--users`` users, each with one ``welcome_email`` row
keyed ``once`` and one ``avatar`` row for their picture, and ``webhook`` rows up to ``--rows``
in all: 90% done 30 to 50 days ago, 5% failed 100 days ago (both prunable), 5% done yesterday.

Logins are ``dispatch.record_jobs`` in a transaction, as in ``dispatch_cost``: a signup of a
new user (two jobs), then a returning login of one of the filled users (its avatar job, whose
old row the prune may be deleting at that moment), alternately. Variants, in interleaved
rounds:

- ``alone``: logins with nothing else running;
- ``batched``: logins while another process runs ``postlogin.prune.delete_batch`` (batches of
  ``--batch-size``, one short transaction each, ``--batches`` a round), as the prune task does;
  the pruner's time per batch is reported too;
- ``one-delete`` (last round): logins while the rest of the prunable rows go in one ``DELETE``
  in one transaction (``Job.objects.filter(...).delete()``, what a prune without batches does).

Reported: login wall time (p50, p95, p99, max; microseconds) per variant and login kind, and
the ratio to ``alone``; batch times; the whole prune's time. The database is created and
dropped (``--database``); every child process is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.processes import stop_process_group

from . import common
from .stats import ratio, summarize

FILL_SQL = """
INSERT INTO postlogin_job
    (user_id, kind, key, provider, payload, state, attempts, last_error, error_code,
     created_at, updated_at, finished_at)
SELECT users.ids[1 + g %% cardinality(users.ids)], 'webhook', 'crm:login:' || g, 'oidc',
       '{}'::jsonb, CASE WHEN g %% 20 = 0 THEN 'failed' ELSE 'done' END, 1, '', '', at, at, at
FROM generate_series(1, %(rows)s) AS g,
     (SELECT array_agg(id ORDER BY id) AS ids FROM auth_user WHERE username LIKE 'old%%') AS users,
     LATERAL (SELECT CASE
         WHEN g %% 20 = 0 THEN now() - interval '100 days'
         WHEN g %% 20 = 1 THEN now() - interval '1 day'
         ELSE now() - interval '30 days' - (g %% 1728000) * interval '1 second'
     END AS at) AS t
"""
PER_USER_SQL = """
INSERT INTO postlogin_job
    (user_id, kind, key, provider, payload, state, attempts, last_error, error_code,
     created_at, updated_at, finished_at)
SELECT id, kind, key, 'oidc', '{}'::jsonb, 'done', 1, '', '', at, at, at
FROM auth_user,
     LATERAL (VALUES
        ('welcome_email', 'once'),
        ('avatar', 'url:' || left(encode(sha256(convert_to(
            'http://127.0.0.1:9/avatars/' || username || '.png', 'UTF8')), 'hex'), 40))
     ) AS jobs(kind, key),
     LATERAL (SELECT now() - interval '30 days' - (id %% 1728000) * interval '1 second' AS at) AS t
WHERE username LIKE 'old%%'
"""


def _setup(args: argparse.Namespace) -> None:
    common.setup_django(
        common.django_environment(
            database_url=args.database_url, broker="memory://", var_dir=Path(args.workdir)
        )
    )


def _fill(users: int, rows: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    started = time.perf_counter()
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"old{n}") for n in range(users)], batch_size=5000
    )
    with connection.cursor() as cursor:
        cursor.execute(PER_USER_SQL, {})
        cursor.execute(FILL_SQL, {"rows": rows - 2 * users})
        cursor.execute("ANALYZE postlogin_job")
        cursor.execute("SELECT count(*) FROM postlogin_job")
        total = cursor.fetchone()[0]
    return {"rows": total, "users": users, "fill_seconds": round(time.perf_counter() - started, 1)}


def _pruner(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a process of its own: prune ``--batches`` batches, or one DELETE (``--one``)."""
    _setup(args)
    from django.db import connection, transaction

    from postlogin import prune
    from postlogin.conf import postlogin_settings

    older_than = postlogin_settings.PRUNE_DONE_AFTER
    connection.ensure_connection()
    print("ready", flush=True)
    if args.one:
        started = time.perf_counter()
        with transaction.atomic():
            deleted, _ = prune.prunable("done", older_than).delete()
        seconds = time.perf_counter() - started
        return {"deleted": deleted, "batch_ms": [round(seconds * 1000, 1)]}
    times: list[float] = []
    deleted = 0
    after = None
    for _ in range(args.batches):
        started = time.perf_counter()
        count, after = prune.delete_batch("done", older_than, args.batch_size, after)
        times.append(round((time.perf_counter() - started) * 1000, 2))
        deleted += count
        if after is None:
            break
    return {"deleted": deleted, "batch_ms": times}


class Logins:
    """Logins as ``dispatch.record_jobs`` in a transaction, and their wall times by variant and
    kind: a signup makes a new user (two jobs); a returning login is one of the filled users
    (its avatar job, whose old row a prune may be deleting). Needs Django set up and filled."""

    def __init__(self, max_seconds: float) -> None:
        from django.contrib.auth import get_user_model

        self.max_seconds = max_seconds
        self.user_model = get_user_model()
        old_users = list(
            self.user_model.objects.filter(username__startswith="old").values_list("pk", "username")
        )
        self._fresh = iter(range(10**9))
        # Returning users in a fixed order spread over the table (a stride prime to its size).
        self._returning = (old_users[(n * 7919) % len(old_users)] for n in range(10**9))
        self.samples: dict[str, dict[str, list[float]]] = {}

    def login(self, kind: str) -> float:
        """One login's ``record_jobs`` in a transaction; its wall time in µs (setup untimed)."""
        from django.db import transaction

        from postlogin import dispatch
        from postlogin.events import LoginEvent, ProviderProfile

        if kind == "signup":
            user = self.user_model.objects.create(username=f"new{next(self._fresh)}")
            user_id, username, is_new = user.pk, user.username, True
        else:
            (user_id, username), is_new = next(self._returning), False
        event = LoginEvent(
            user_id=user_id,
            provider="oidc",
            is_new=is_new,
            profile=ProviderProfile(
                uid=str(user_id), avatar_url=f"http://127.0.0.1:9/avatars/{username}.png"
            ),
        )
        started = time.perf_counter()
        with transaction.atomic():
            dispatch.record_jobs(event)
        return (time.perf_counter() - started) * 1e6

    def measure(self, variant: str, count: int, pruner: subprocess.Popen[bytes] | None) -> int:
        """Signups and returning logins in turn, ``count`` at most, for ``max_seconds`` at most,
        and only while ``pruner`` runs; how many there were."""
        done = 0
        deadline = time.monotonic() + self.max_seconds
        bucket = self.samples.setdefault(variant, {"signup": [], "returning": []})
        while done < count and time.monotonic() < deadline:
            if pruner is not None and pruner.poll() is not None:
                break
            kind = "signup" if done % 2 == 0 else "returning"
            bucket[kind].append(self.login(kind))
            done += 1
        return done

    def beside_pruner(self, variant: str, args: argparse.Namespace, *extra: str) -> dict[str, Any]:
        """Logins for as long as a pruner process (started with ``extra``) runs; its result."""
        pruner = start_pruner(args, *extra)
        try:
            self.measure(variant, 10**6, pruner)
        finally:
            result = finish_pruner(pruner, args.max_seconds)
        return result


def start_pruner(args: argparse.Namespace, *extra: str) -> subprocess.Popen[bytes]:
    """A pruner process, returned once Django is up in it (it prints ``ready``)."""
    command = [
        sys.executable,
        "-m",
        "bench.prune_cost",
        "--pruner",
        f"--database-url={args.database_url}",
        f"--workdir={args.workdir}",
        f"--batch-size={args.batch_size}",
        f"--batches={args.batches}",
        *extra,
    ]
    process = subprocess.Popen(
        command, cwd=common.ROOT, stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":  # Django is up: measure from here
        stop_process_group(process, timeout=5)
        raise RuntimeError("the pruner did not start")
    return process


def finish_pruner(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """Wait for the pruner (stopped by its PID in any case); what it printed last, as JSON."""
    return common.json_result(process, timeout=timeout, name="the pruner")


def batched_rounds(logins: Logins, args: argparse.Namespace) -> dict[str, Any]:
    """Each round: logins alone, then logins beside a batched prune; the batches' times."""
    batch_ms: list[float] = []
    deleted = 0
    for _round in range(args.rounds):
        logins.measure("alone", args.logins, None)
        pruned = logins.beside_pruner("batched", args)
        batch_ms += pruned["batch_ms"]
        deleted += pruned["deleted"]
    return {
        "batch_size": args.batch_size,
        "batches": len(batch_ms),
        "deleted": deleted,
        "batch_ms": summarize(batch_ms, digits=2),
        "rows_per_second": round(deleted / (sum(batch_ms) / 1000)) if batch_ms else None,
    }


def login_summaries(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Percentiles of the logins per variant and kind (µs), and their ratios to ``alone``."""
    logins_us = {
        variant: {kind: summarize(values, digits=0) for kind, values in kinds.items()}
        for variant, kinds in samples.items()
    }
    alone = logins_us["alone"]
    ratio_to_alone = {
        variant: {
            kind: {
                stat: ratio(stats[kind][stat], alone[kind][stat])
                for stat in ("p50", "p95", "p99", "max")
            }
            for kind in stats
        }
        for variant, stats in logins_us.items()
        if variant != "alone"
    }
    return {"logins_us": logins_us, "ratio_to_alone": ratio_to_alone}


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Fill the ledger, then measure logins alone and beside a pruner process: batched rounds,
    then one DELETE of the rest."""
    _setup(args)
    from django.core.management import call_command

    from postlogin import prune
    from postlogin.breaker import publish_breaker
    from postlogin.conf import postlogin_settings

    call_command("migrate", verbosity=0, interactive=False)
    filled = _fill(args.users, args.rows)
    print(f"prune_cost: filled {json.dumps(filled)}", file=sys.stderr, flush=True)
    logins = Logins(args.max_seconds)
    publish_breaker.record_success()
    for kind in ("signup", "returning") * 20:  # warm up: imports, connection, caches
        logins.login(kind)
    batched = batched_rounds(logins, args)
    logins.measure("alone", args.logins, None)
    left = prune.prunable("done", postlogin_settings.PRUNE_DONE_AFTER).count()
    one = logins.beside_pruner("one-delete", args, "--one")
    return {
        "database": "postgresql",
        "filled": filled,
        "batched": batched,
        "one_delete": {"rows": left, "deleted": one["deleted"], "ms": one["batch_ms"][0]},
        **login_summaries(logins.samples),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The summary's table: logins beside each prune, against logins alone."""
    params, batched, one = result["params"], result["batched"], result["one_delete"]
    lines = [
        f"Pruning a ledger of {result['filled']['rows']:,} jobs ({params['rounds']} rounds of "
        f"{params['batches_per_round']} batches of {batched['batch_size']} rows beside logins, "
        f"then the rest in one DELETE; login = `record_jobs` in a transaction, wall time in "
        f"microseconds):",
        "",
        "| prune running | login | n | p50 | p95 | p99 | max | p50 vs alone | p99 vs alone "
        "| max vs alone |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for variant, kinds in result["logins_us"].items():
        for kind, stats in kinds.items():
            ratios = result["ratio_to_alone"].get(variant, {}).get(kind, {})
            cells = " | ".join(
                "-" if ratios.get(stat) is None else f"{ratios[stat]:.2f}x"
                for stat in ("p50", "p99", "max")
            )
            lines.append(
                f"| {variant} | {kind} | {stats['n']} | {stats['p50']:,.0f} | {stats['p95']:,.0f} "
                f"| {stats['p99']:,.0f} | {stats['max']:,.0f} | {cells} |"
            )
    times = batched["batch_ms"]
    lines += [
        "",
        f"Batches: {batched['batches']} of {batched['batch_size']} rows, {times['p50']} ms p50, "
        f"{times['p99']} ms p99, {times['max']} ms max ({batched['rows_per_second']:,} rows/s). "
        f"One DELETE of {one['deleted']:,} rows: {one['ms']:,.0f} ms in one transaction.",
    ]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Pruning a large ledger, beside logins.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs in the ledger")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=150, help="batches per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--logins", type=int, default=600, help="logins alone per round")
    parser.add_argument("--max-seconds", type=float, default=120, help="bound of each phase")
    parser.add_argument("--database", default="postlogin_bench_prune")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    # Internal: the measuring child, and the pruner it starts.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pruner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.pruner:
        print(json.dumps(_pruner(args)))
        return {}
    if args.child:
        print(json.dumps(_child(args)))
        return {}
    common.stop_on_sigterm()
    services = common.detect_services()
    if services.postgres_url is None:
        print("prune_cost: needs PostgreSQL (BENCH_POSTGRES_URL); skipped", file=sys.stderr)
        return {}
    with (
        tempfile.TemporaryDirectory(prefix="postlogin-bench-") as tmp,
        common.bench_database(services, args.database, Path(tmp)) as database_url,
    ):
        command = [
            sys.executable,
            "-m",
            "bench.prune_cost",
            "--child",
            f"--database-url={database_url}",
            f"--workdir={tmp}",
            *(
                f"--{name.replace('_', '-')}={getattr(args, name)}"
                for name in ("rows", "users", "batch_size", "batches", "rounds", "logins")
            ),
            f"--max-seconds={args.max_seconds}",
        ]
        run = common.run_json_child(command, timeout=1800, name="prune_cost child")
    result = {
        "machine": common.machine_info(services),
        "params": {
            "rows": args.rows,
            "users": args.users,
            "batch_size": args.batch_size,
            "batches_per_round": args.batches,
            "rounds": args.rounds,
            "logins_alone_per_round": args.logins,
            "unit": "microseconds of wall time per login (record_jobs in a transaction)",
        },
        **run,
    }
    common.write_json(args.results / "prune_cost.json", result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    common.run_main(main, "prune_cost")
