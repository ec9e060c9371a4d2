"""Worker throughput: avatar jobs against a slow avatar host, with the recommended worker.

Records ``--jobs`` avatar jobs (default 1,000; one user each, a different picture each) in the
ledger, starts a Celery worker of the example project as the docs recommend for I/O-bound
jobs (``--pool threads --concurrency 16``), warms it with one job per thread, then publishes
every job's ``run_job`` message and waits until the ledger says they are all done.

The avatar host answers after ``--latency`` seconds (default 1). Reported: wall time (from the
first publish to the last job's ``finished_at``), jobs per second, efficiency =
(jobs x latency / concurrency) / wall time (1.0 = the threads never wait for anything but the
avatar host), peak RSS and CPU time of the worker process. Writes
``bench/results/worker_throughput.json``.

``--black-holed 0.5`` points every other job at a picture host that black-holes connections
(``tests.support.sockets.black_hole``): each of their attempts holds a worker thread for the connect
timeout of ``HTTP_TIMEOUT`` and they fail after ``MAX_RETRIES``. Reported then: the
throughput of the other jobs (wall time to the last of them done), and how long until the
black-holed ones had all failed. Writes ``worker_throughput_black_holed_<percent>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.sockets import black_hole

from . import common
from .fake_idp import FakeProvider


def efficiency(jobs: int, latency: float, concurrency: int, wall: float) -> float:
    """(jobs x latency / concurrency) / wall: the share of the ideal throughput reached."""
    if wall <= 0:
        raise ValueError("wall time must be positive")
    return jobs * latency / concurrency / wall


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set (Linux ``VmHWM``), in MiB; None where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def summary_lines(worker: dict[str, Any]) -> list[str]:
    """The summary's worker throughput table."""
    r, p = worker["results"], worker["params"]
    return [
        f"Worker throughput ({p['jobs']} avatar jobs, avatar host "
        f"{p['avatar_host_latency_s']:g} s, `{p['worker']}`):",
        "",
        "| wall | ideal | jobs/s | efficiency | worker CPU per job | worker peak RSS |",
        "|--:|--:|--:|--:|--:|--:|",
        f"| {r['wall_seconds']} s | {r['ideal_seconds']} s | {r['jobs_per_second']} | "
        f"{r['efficiency']} | {r['worker_cpu_ms_per_job']} ms | "
        f"{r['worker_peak_rss_mib']} MiB |",
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Throughput of a worker on avatar jobs.")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1.0, help="avatar host, seconds (1)")
    parser.add_argument("--concurrency", type=int, default=16, help="worker threads (16)")
    parser.add_argument("--pool", default="threads", help="worker pool (threads)")
    parser.add_argument(
        "--black-holed",
        type=float,
        default=0.0,
        help="share of the jobs whose avatar host black-holes connections (0)",
    )
    parser.add_argument("--max-seconds", type=float, default=600, help="give up after")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if not 0 <= args.black_holed < 1:
        raise SystemExit("--black-holed is a share of the jobs, from 0 up to (not including) 1")
    common.stop_on_sigterm()
    services = common.detect_services()
    print(f"worker_throughput: {services.database}, broker {services.broker}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="postlogin-bench-") as tmp:
        workdir = Path(tmp)
        with (
            common.bench_database(services, "postlogin_bench_worker", workdir) as database_url,
            FakeProvider(avatar_delay=args.latency) as host,
            black_hole() as dark_port,
            common.Children() as children,
        ):
            broker = common.broker_url(services, workdir)
            dark = f"http://127.0.0.1:{dark_port}" if args.black_holed else None
            measured = measure(args, children, workdir, database_url, broker, host, dark)
    result = {
        "machine": common.machine_info(services),
        "params": {
            "jobs": args.jobs,
            "avatar_host_latency_s": args.latency,
            "black_holed_share": args.black_holed,
            "pool": args.pool,
            "concurrency": args.concurrency,
            "worker": f"celery -A proj worker --pool {args.pool} --concurrency {args.concurrency}",
            **services.describe(),
        },
        "results": measured,
        "targets": [
            {
                "target": "efficiency >= 0.7",
                "value": measured["efficiency"],
                "limit": 0.7,
                "met": measured["efficiency"] is not None and measured["efficiency"] >= 0.7,
            }
        ],
    }
    name = "worker_throughput"
    if args.black_holed:
        name += f"_black_holed_{round(args.black_holed * 100)}"
    common.write_json(args.results / f"{name}.json", result)
    print(json.dumps(result, indent=2))
    return result


def make_jobs(
    prefix: str, n: int, host: FakeProvider, dark: str | None = None, black_holed: float = 0.0
) -> tuple[list[int], set[int]]:
    """``n`` avatar jobs (one new user each), and the IDs of those whose picture is on the
    black-holed host ``dark``."""
    from django.contrib.auth import get_user_model

    from postlogin.events import LoginEvent, ProviderProfile
    from postlogin.kinds.avatar import plan_avatar
    from postlogin.models import Job

    user_model = get_user_model()
    names = [f"{prefix}{i}" for i in range(n)]
    user_model.objects.bulk_create([user_model(username=name) for name in names])
    users = user_model.objects.filter(username__in=names).values_list("pk", "username")
    rows, dark_users = [], set()
    for index, (user_id, name) in enumerate(users.order_by("pk")):
        url = host.avatar_url(name)
        # Spread evenly through the queue: job i is black-holed when the running share
        # crosses a whole number.
        if dark and int((index + 1) * black_holed) > int(index * black_holed):
            url = f"{dark}/{name}.png"
            dark_users.add(user_id)
        event = LoginEvent(
            user_id=user_id, provider="oidc", is_new=False, profile=ProviderProfile(avatar_url=url)
        )
        spec = plan_avatar(event)
        assert spec is not None
        rows.append(Job(user_id=user_id, kind="avatar", key=spec.key, payload=spec.payload))
    Job.objects.bulk_create(rows)
    jobs = Job.objects.filter(user__username__startswith=prefix).order_by("pk")
    ids = list(jobs.values_list("pk", flat=True))
    return ids, set(jobs.filter(user_id__in=dark_users).values_list("pk", flat=True))


def publish(ids: list[int]) -> None:
    """One ``run_job`` message per job, to the benchmark's queue, on one producer."""
    from celery import current_app

    from postlogin.publish import RUN_JOB_TASK

    with current_app.producer_or_acquire() as producer:
        for job_id in ids:
            current_app.send_task(
                RUN_JOB_TASK,
                args=(job_id,),
                queue=common.TASK_QUEUE,
                ignore_result=True,
                producer=producer,
            )


def wait_done(ids: list[int], deadline: float, worker: subprocess.Popen[bytes]) -> int:
    """Wait until every job is done or failed (or ``deadline``, monotonic); how many are not.
    Fails at once if the worker exits."""
    from postlogin.models import Job

    while time.monotonic() < deadline:
        left = Job.objects.filter(pk__in=ids).exclude(state__in=["done", "failed"]).count()
        if left == 0:
            return 0
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}")
        time.sleep(0.25)
    return left


def start_worker(
    children: common.Children, args: argparse.Namespace, env: dict[str, str], workdir: Path
) -> subprocess.Popen[bytes]:
    """The example project's worker, as the docs recommend for I/O-bound jobs, on our queue."""
    return children.start(
        "worker",
        [
            *(sys.executable, "-m", "celery", "-A", "proj", "worker"),
            *("--pool", args.pool, "--concurrency", str(args.concurrency)),
            *("--queues", common.TASK_QUEUE, "--loglevel", "WARNING"),
        ],
        env=env,
        cwd=common.EXAMPLE,
        log=workdir / "worker.log",
    )


@dataclass(frozen=True)
class Timing:
    """What the measured jobs cost: wall-clock start, publishing time, the worker's CPU and
    memory, and how many jobs were not finished in time."""

    started: float
    publish_seconds: float
    left: int
    cpu_seconds: float
    rss_peak_mib: float | None
    rss_end_mib: float


def time_jobs(ids: list[int], worker: subprocess.Popen[bytes], max_seconds: float) -> Timing:
    """Publish every job and wait for the ledger to say they are finished; the worker is
    already warm."""
    import psutil

    process = psutil.Process(worker.pid)
    cpu_before = process.cpu_times()
    started = time.time()
    publish(ids)
    publish_seconds = time.time() - started
    left = wait_done(ids, time.monotonic() + max_seconds, worker)
    cpu_after = process.cpu_times()
    return Timing(
        started=started,
        publish_seconds=publish_seconds,
        left=left,
        cpu_seconds=(cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        rss_peak_mib=peak_rss_mib(worker.pid),
        rss_end_mib=round(process.memory_info().rss / 1024 / 1024, 1),
    )


def ledger_outcome(ids: list[int], dark_ids: set[int]) -> dict[str, Any]:
    """Jobs by state; when the last job on the working host and the last black-holed job
    finished (None when none did)."""
    from django.db.models import Count, Max

    from postlogin.models import Job

    counts = {
        row["state"]: row["n"]
        for row in Job.objects.filter(pk__in=ids).values("state").annotate(n=Count("id"))
    }
    other_ids = [job_id for job_id in ids if job_id not in dark_ids]
    done = Job.objects.filter(pk__in=other_ids, state="done").aggregate(last=Max("finished_at"))
    dark = Job.objects.filter(pk__in=dark_ids).aggregate(last=Max("finished_at"))
    return {"counts": counts, "last_done": done["last"], "last_black_holed": dark["last"]}


def results(
    args: argparse.Namespace, timing: Timing, outcome: dict[str, Any], dark_jobs: int
) -> dict[str, Any]:
    """The throughput of the jobs on the working host (all of them unless --black-holed)."""
    counts, other_jobs = outcome["counts"], args.jobs - dark_jobs
    wall = outcome["last_done"].timestamp() - timing.started
    black_holed = {}
    if dark_jobs:
        last_failed = outcome["last_black_holed"]
        black_holed = {
            "black_holed_jobs": dark_jobs,
            "other_jobs": other_jobs,
            "black_holed_all_finished_seconds": (
                round(last_failed.timestamp() - timing.started, 2) if last_failed else None
            ),
        }
    return {
        "jobs_done": counts.get("done", 0),
        "jobs_by_state": counts,
        "jobs_not_finished_in_time": timing.left,
        "publish_seconds": round(timing.publish_seconds, 2),
        "wall_seconds": round(wall, 2),
        "ideal_seconds": round(other_jobs * args.latency / args.concurrency, 2),
        "jobs_per_second": round(other_jobs / wall, 2),
        "efficiency": round(efficiency(other_jobs, args.latency, args.concurrency, wall), 3),
        "worker_cpu_seconds": round(timing.cpu_seconds, 2),
        "worker_cpu_ms_per_job": round(timing.cpu_seconds / args.jobs * 1000, 2),
        "worker_peak_rss_mib": timing.rss_peak_mib,
        "worker_rss_end_mib": timing.rss_end_mib,
        **black_holed,
    }


def measure(
    args: argparse.Namespace,
    children: common.Children,
    workdir: Path,
    database_url: str,
    broker: str,
    host: FakeProvider,
    dark: str | None = None,
) -> dict[str, Any]:
    """Record the jobs, start and warm the worker (one job per thread), time the jobs, stop the
    worker, and read the outcome from the ledger."""
    env = common.django_environment(database_url=database_url, broker=broker, var_dir=workdir)
    common.setup_django(env)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    common.purge_queue(broker, common.TASK_QUEUE)
    warm_ids, _ = make_jobs("warm", args.concurrency, host)
    ids, dark_ids = make_jobs("job", args.jobs, host, dark, args.black_holed)
    connection.close()
    worker = start_worker(children, args, env, workdir)
    publish(warm_ids)
    if wait_done(warm_ids, time.monotonic() + 120, worker):
        raise RuntimeError(f"warm-up jobs not done; see {workdir / 'worker.log'}")
    timing = time_jobs(ids, worker, args.max_seconds)
    children.stop("worker")
    outcome = ledger_outcome(ids, dark_ids)
    connection.close()
    common.purge_queue(broker, common.TASK_QUEUE)
    if outcome["last_done"] is None:
        raise RuntimeError(f"no job finished ({outcome['counts']}); see {workdir / 'worker.log'}")
    return results(args, timing, outcome, len(dark_ids))


if __name__ == "__main__":
    common.run_main(main, "worker_throughput", on_interrupt="interrupted; every process stopped")
