"""Login latency: django-postlogin against no post-login work, inline work, and broker outages.

Starts the example project under gunicorn once per variant (same settings but the pipeline's
last step and the broker URL), a fast local OpenID Connect provider whose avatar host takes
``--avatar-delay`` seconds per picture, and drives full logins through the real views: POST
``/login/oidc/`` (with a CSRF cookie and header), then ``/complete/oidc/`` with the ``state``
from the redirect and a code the provider accepts (the provider's own sign-in page is skipped).
Every login is a new user, so every login does the most work: user creation and, for the
post-login variants, the welcome email and the avatar.

Variants run in interleaved rounds (the order rotates each round), so machine noise hits them
alike. Before measuring, each server is warmed with logins of returning users that schedule
no work (imports, database connections, the provider's discovery document and keys), so a
broker outage is first met inside the measured logins.

Prints the JSON summary and writes ``bench/results/login_latency.json``,
``login_latency.png`` and ``login_latency_samples.csv``.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import common
from .fake_idp import CLIENT_ID, CLIENT_SECRET, make_code

VARIANTS = ("bare", "offload", "inline", "offload-broker-down", "offload-broker-hung")
BROKER_OUTAGES = ("offload-broker-down", "offload-broker-hung")
SHORT = {
    "bare": "b",
    "offload": "o",
    "inline": "i",
    "offload-broker-down": "d",
    "offload-broker-hung": "h",
}
COLORS = {
    "bare": "#444444",
    "offload": "#1f77b4",
    "inline": "#d62728",
    "offload-broker-down": "#2ca02c",
    "offload-broker-hung": "#9467bd",
}
BACKEND = "oidc"
LOGIN_REDIRECT = "/profile/"


# --- one login -------------------------------------------------------------------------------


@dataclass
class Sample:
    """One login as the client saw it, plus what the server said about its /complete/."""

    variant: str
    round: int
    user: str
    started_s: float
    ok: bool
    login_ms: float | None = None
    complete_ms: float | None = None
    error: str = ""
    pid: int | None = None
    server_ms: float | None = None
    server_cpu_ms: float | None = None
    publish_attempts: int = 0
    publish_failures: int = 0
    publish_ms: float = 0.0


def _cookies(message: http.client.HTTPMessage, jar: dict[str, str]) -> None:
    for header in message.get_all("Set-Cookie") or []:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            jar[name] = morsel.value


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


class LoginClient:
    """Drives one social login at a time against ``127.0.0.1:port`` (a new connection each)."""

    def __init__(self, port: int, *, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response
        finally:
            conn.close()

    def login(self, variant: str, round_: int, user: str, t0: float, picture: bool) -> Sample:
        # The CSRF cookie comes from the page with the sign-in button, before the login starts.
        csrf = secrets.token_hex(16)
        jar = {"csrftoken": csrf}
        started = time.perf_counter()
        sample = Sample(variant, round_, user, round(started - t0, 3), ok=False)
        try:
            begin = self._request(
                "POST",
                f"/login/{BACKEND}/",
                {
                    "Cookie": _cookie_header(jar),
                    "X-CSRFToken": csrf,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                b"",
            )
            if begin.status != 302:
                sample.error = f"begin: HTTP {begin.status}"
                return sample
            _cookies(begin.headers, jar)
            query = parse_qs(urlsplit(begin.headers.get("Location", "")).query)
            state, nonce = query["state"][0], query["nonce"][0]
            code = make_code(user, nonce, picture=picture)
            path = f"/complete/{BACKEND}/?{urlencode({'code': code, 'state': state})}"
            complete_started = time.perf_counter()
            complete = self._request("GET", path, {"Cookie": _cookie_header(jar)})
            finished = time.perf_counter()
        except (OSError, http.client.HTTPException, KeyError, IndexError) as exc:
            sample.error = f"{type(exc).__name__}: {exc}"[:200]
            return sample
        sample.login_ms = round((finished - started) * 1000, 2)
        sample.complete_ms = round((finished - complete_started) * 1000, 2)
        headers = complete.headers
        if headers.get("X-Bench-Pid"):
            sample.pid = int(headers["X-Bench-Pid"])
            sample.server_ms = float(headers["X-Bench-Server-Ms"])
            sample.server_cpu_ms = float(headers["X-Bench-Cpu-Ms"])
            attempts, failures, ms = headers["X-Bench-Publish"].split()
            sample.publish_attempts, sample.publish_failures = int(attempts), int(failures)
            sample.publish_ms = float(ms)
        location = urlsplit(headers.get("Location", "")).path
        sample.ok = complete.status == 302 and location == LOGIN_REDIRECT
        if not sample.ok:
            sample.error = f"complete: HTTP {complete.status} to {location!r}"
        return sample


def run_logins(
    client: LoginClient,
    variant: str,
    round_: int,
    users: Sequence[str],
    *,
    concurrency: int,
    t0: float,
    deadline: float,
    picture: bool = True,
) -> list[Sample]:
    """``users`` log in, ``concurrency`` at a time, until done or ``deadline`` (monotonic)."""
    samples: list[Sample] = []
    pending = list(reversed(users))
    lock = threading.Lock()

    def work() -> None:
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    return
                user = pending.pop()
            sample = client.login(variant, round_, user, t0, picture)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + client.timeout + 5))
    return samples


# --- summaries (pure) ------------------------------------------------------------------------


def breaker_view(samples: Sequence[Sample]) -> dict[str, Any]:
    """Split an outage variant's logins by what the circuit breaker did for them.

    The breaker is per process. "Tripped" is the moment the last web process that tried the
    broker got its first failure; logins that started after it are "after the trip" (those
    that started before it include the ones that queued behind a process blocked on the
    broker). A "probe" is any login that tried the broker; the others found the breaker open.
    """
    ok = [s for s in samples if s.ok]

    def finished(sample: Sample) -> float:
        return sample.started_s + (sample.login_ms or 0) / 1000

    first_failure: dict[int | None, float] = {}
    for sample in sorted(ok, key=finished):
        if sample.publish_failures and sample.pid not in first_failure:
            first_failure[sample.pid] = finished(sample)
    tripped_at = max(first_failure.values()) if first_failure else None
    after = [s for s in ok if tripped_at is not None and s.started_s > tripped_at]
    probes = [s for s in ok if s.publish_attempts]
    skipped = [s for s in ok if not s.publish_attempts]
    return {
        "tripped_at_s": tripped_at,
        "processes_tripped": len(first_failure),
        "logins_before_trip": len(ok) - len(after),
        "complete_ms_after_trip": common.summarize(s.complete_ms for s in after),
        "complete_ms_breaker_open": common.summarize(s.complete_ms for s in skipped),
        "probe_logins": len(probes),
        "probe_logins_failed_publish": sum(1 for s in probes if s.publish_failures),
        "probe_complete_ms": common.summarize(s.complete_ms for s in probes),
        "probe_publish_ms": common.summarize(s.publish_ms for s in probes),
    }


def variant_summary(samples: Sequence[Sample]) -> dict[str, Any]:
    ok = [s for s in samples if s.ok]
    published = [s for s in ok if s.publish_attempts]
    summary: dict[str, Any] = {
        "logins": len(samples),
        "failed": len(samples) - len(ok),
        "complete_ms": common.summarize(s.complete_ms for s in ok),
        "login_ms": common.summarize(s.login_ms for s in ok),
        "server_ms": common.summarize(s.server_ms for s in ok),
        "server_cpu_ms": common.summarize(s.server_cpu_ms for s in ok),
        "logins_that_published": len(published),
        "publish_ms": common.summarize(s.publish_ms for s in published),
    }
    errors = sorted({s.error for s in samples if s.error})
    if errors:
        summary["errors"] = errors[:10]
    return summary


def summarize_run(samples: Sequence[Sample], variants: Sequence[str]) -> dict[str, Any]:
    """``{variant: summary}`` with ratios to ``bare``, and the outage variants' breaker view."""
    by_variant = {v: [s for s in samples if s.variant == v] for v in variants}
    result = {v: variant_summary(by_variant[v]) for v in variants}
    for variant in variants:
        if variant in BROKER_OUTAGES:
            result[variant]["breaker"] = breaker_view(by_variant[variant])
    bare = result.get("bare")
    if bare is None:
        return result
    for summary in result.values():
        summary["ratio_to_bare"] = {
            f"{metric}_{q}": common.ratio(summary[metric][q], bare[metric][q])
            for metric in ("complete_ms", "login_ms")
            for q in ("p50", "p95", "p99")
        }
        if "breaker" in summary:
            breaker = summary["breaker"]
            for case in ("after_trip", "breaker_open"):
                summary["ratio_to_bare"][f"complete_ms_p99_{case}"] = common.ratio(
                    breaker[f"complete_ms_{case}"]["p99"], bare["complete_ms"]["p99"]
                )
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


# --- output ----------------------------------------------------------------------------------


def write_samples(path: Path, samples: Sequence[Sample]) -> None:
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


class CpuMeter:
    """CPU seconds of the processes a login runs in, so that each chunk's cost can be split:
    ``web`` (a variant's gunicorn workers), ``database`` (their PostgreSQL backends, found by
    client port), ``provider`` (the fake provider and avatar host) and ``client`` (this one)."""

    def __init__(self, gunicorn_pid: int, provider_pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.gunicorn = psutil.Process(gunicorn_pid)
        self.provider_pid = provider_pid

    def _cpu(self, pid: int) -> float | None:
        try:
            times = self.psutil.Process(pid).cpu_times()
        except (self.psutil.Error, OSError):
            return None
        return float(times.user + times.system)

    def _backends(self, workers: list[int]) -> list[int]:
        from django.db import connection

        if connection.vendor != "postgresql":
            return []
        ports = set()
        for pid in workers:
            try:
                for conn in self.psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.raddr and conn.laddr:
                        ports.add(conn.laddr.port)
            except (self.psutil.Error, OSError):
                continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database()"
            )
            return [pid for pid, port in cursor.fetchall() if port in ports]

    def snapshot(self) -> dict[str, dict[int, float]]:
        workers = [child.pid for child in self.gunicorn.children()]
        groups = {
            "web": workers,
            "database": self._backends(workers),
            "provider": [self.provider_pid],
            "client": [self.psutil.Process().pid],
        }
        return {
            group: {pid: cpu for pid in pids if (cpu := self._cpu(pid)) is not None}
            for group, pids in groups.items()
        }

    @staticmethod
    def used(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """CPU seconds per group between two snapshots (processes born in between count whole)."""
        return {
            group: sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in after.items()
        }


def cpu_summary(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per variant: logins per second while its chunks ran, and CPU ms per login by process."""
    logins = sum(c["logins"] for c in chunks)
    seconds = sum(c["seconds"] for c in chunks)
    if not logins or not seconds:
        return {}
    groups = sorted({g for c in chunks for g in c["cpu_s"]})
    per_login = {
        g: round(sum(c["cpu_s"].get(g, 0.0) for c in chunks) / logins * 1000, 2) for g in groups
    }
    per_login["total"] = round(sum(per_login.values()), 2)
    return {"logins_per_second": round(logins / seconds, 2), "cpu_ms_per_login": per_login}


# --- the run ---------------------------------------------------------------------------------


def create_returning_users(names: Sequence[str]) -> None:
    """Users who logged in before (social account present): their logins schedule no work."""
    from django.contrib.auth import get_user_model
    from social_django.models import UserSocialAuth

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=name, email=f"{name}@bench.example") for name in names]
    )
    if any(user.pk is None for user in users):  # SQLite before 3.35 returns no IDs
        users = list(user_model.objects.filter(username__in=names))
    UserSocialAuth.objects.bulk_create(
        [
            UserSocialAuth(user=user, provider=BACKEND, uid=user.username, id_key="sub")
            for user in users
        ]
    )


def job_states(prefix: str) -> dict[str, int]:
    from django.db.models import Count

    from postlogin.models import Job, Profile

    rows = (
        Job.objects.filter(user__username__startswith=prefix)
        .values("state")
        .annotate(n=Count("id"))
    )
    states = {row["state"]: row["n"] for row in rows}
    states["avatars_stored_in_request"] = (
        Profile.objects.filter(user__username__startswith=prefix).exclude(avatar="").count()
    )
    return states


def gunicorn_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "proj.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--preload",
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]


def warm_up(
    client: LoginClient, variant: str, workers: int, run_id: str, t0: float
) -> dict[str, Any]:
    """Returning users log in until every worker process has served some of them.

    They follow the variant's steady-state path (offload publishes one avatar job, inline
    downloads one picture), except in the outage variants, whose warm-up users have no
    picture and so schedule no job: there the dead broker is first met in measured logins.
    """
    picture = variant not in BROKER_OUTAGES
    seen: set[int] = set()
    logins = failed = 0
    errors: set[str] = set()
    for attempt in range(8):
        users = [f"w{SHORT[variant]}{attempt}x{i}{run_id}" for i in range(workers * 2)]
        create_returning_users(users)
        samples = run_logins(
            client,
            variant,
            -1,
            users,
            concurrency=workers,
            t0=t0,
            deadline=time.monotonic() + 120,
            picture=picture,
        )
        logins += len(samples)
        failed += sum(1 for s in samples if not s.ok)
        errors.update(s.error for s in samples if s.error)
        seen.update(s.pid for s in samples if s.pid is not None)
        if len(seen) >= workers and attempt >= 1:
            break
    result: dict[str, Any] = {"logins": logins, "failed": failed, "processes": len(seen)}
    if errors:
        result["errors"] = sorted(errors)[:5]
    return result


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


def measure(
    args: argparse.Namespace,
    services: common.Services,
    children: common.Children,
    workdir: Path,
    database_url: str,
    hung_port: int,
) -> Run:
    run_id = secrets.token_hex(3)
    broker = common.broker_url(services, workdir)
    brokers = {
        "bare": broker,
        "offload": broker,
        "inline": broker,
        # Nothing listens there: connections are refused.
        "offload-broker-down": f"redis://127.0.0.1:{common.unused_port()}/0",
        # Accepts connections, never answers.
        "offload-broker-hung": f"redis://127.0.0.1:{hung_port}/0",
    }
    # The provider and its avatar host, in a process of their own.
    idp_port = common.unused_port()
    idp_command = [sys.executable, "-m", "bench.fake_idp", "--port", str(idp_port)]
    idp = children.start(
        "idp",
        [*idp_command, "--avatar-delay", str(args.avatar_delay)],
        env=common.django_environment(database_url=database_url, broker=broker, var_dir=workdir),
        cwd=common.ROOT,
        log=workdir / "idp.log",
    )
    issuer = f"http://127.0.0.1:{idp_port}"
    common.wait_for_http(f"{issuer}/.well-known/openid-configuration", timeout=30, process=idp)
    oidc = {
        "OIDC_ENDPOINT": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }
    common.setup_django(
        common.django_environment(
            database_url=database_url, broker=broker, var_dir=workdir, extra=oidc
        )
    )
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    common.purge_queue(broker, common.TASK_QUEUE)

    ports: dict[str, int] = {}
    for variant in args.variants:
        ports[variant] = common.unused_port()
        env = common.django_environment(
            database_url=database_url,
            broker=brokers[variant],
            var_dir=workdir,
            variant=variant,
            extra=oidc,
        )
        children.start(
            variant,
            gunicorn_command(ports[variant], args.workers),
            env=env,
            cwd=common.EXAMPLE,
            log=workdir / f"gunicorn-{variant}.log",
        )
    for variant in args.variants:
        common.wait_for_http(
            f"http://127.0.0.1:{ports[variant]}/",
            timeout=120,
            process=children.processes[variant],
        )
    clients = {v: LoginClient(ports[v]) for v in args.variants}
    t0 = time.perf_counter()
    warm = {v: warm_up(clients[v], v, args.workers, run_id, t0) for v in args.variants}
    connection.close()
    print(f"login_latency: warmed up {warm}", file=sys.stderr)

    meters = {v: CpuMeter(children.processes[v].pid, idp.pid) for v in args.variants}
    chunks: list[dict[str, Any]] = []
    samples: list[Sample] = []
    per_round = [
        args.logins // args.rounds + (1 if r < args.logins % args.rounds else 0)
        for r in range(args.rounds)
    ]
    deadline = time.monotonic() + args.max_seconds
    started = time.monotonic()
    for round_, count in enumerate(per_round):
        shift = round_ % len(args.variants)
        for variant in args.variants[shift:] + args.variants[:shift]:
            users = [f"{SHORT[variant]}{round_}x{i}{run_id}" for i in range(count)]
            before, chunk_started = meters[variant].snapshot(), time.monotonic()
            chunk = run_logins(
                clients[variant],
                variant,
                round_,
                users,
                concurrency=args.concurrency,
                t0=t0,
                deadline=deadline,
            )
            chunk_seconds = time.monotonic() - chunk_started
            chunks.append(
                {
                    "variant": variant,
                    "logins": len(chunk),
                    "seconds": chunk_seconds,
                    "cpu_s": CpuMeter.used(before, meters[variant].snapshot()),
                }
            )
            samples.extend(chunk)
            p50 = common.summarize(s.complete_ms for s in chunk if s.ok)["p50"]
            print(
                f"login_latency: round {round_ + 1}/{args.rounds} {variant:<20} "
                f"{len(chunk)} logins, /complete/ p50 {p50} ms, "
                f"failed {sum(1 for s in chunk if not s.ok)}",
                file=sys.stderr,
            )
    measured_seconds = round(time.monotonic() - started, 1)

    for variant in args.variants:
        children.stop(variant)
    jobs = {v: job_states(SHORT[v]) for v in args.variants}
    connection.close()
    common.purge_queue(broker, common.TASK_QUEUE)
    cpu = {v: cpu_summary([c for c in chunks if c["variant"] == v]) for v in args.variants}
    return Run(samples, warm, jobs, measured_seconds, cpu)


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
            common.hung_server() as hung_port,
            common.Children() as children,
        ):
            # Children stop first (the innermost context), then the database is dropped.
            run = measure(args, services, children, workdir, database_url, hung_port)

    variants = summarize_run(run.samples, args.variants)
    for variant in args.variants:
        variants[variant]["jobs"] = run.jobs[variant]
        variants[variant].update(run.cpu[variant])
    result: dict[str, Any] = {
        "machine": machine,
        "params": {
            "logins_per_variant": args.logins,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "server": f"gunicorn, {args.workers} sync workers per variant, --preload",
            "avatar_delay_s": args.avatar_delay,
            "provider": "bench/fake_idp.py (OpenID Connect, RS256 ID token, PKCE)",
            "every_login": "a new user (signup): welcome email + avatar",
            "warm_up": run.warm_up,
            "measured_seconds": run.measured_seconds,
            "latency": "client-side, ms; percentiles of successful logins",
            "targets_use": (
                "/complete/ request; outage variants: logins that started after every web "
                "process had tripped its breaker"
            ),
            **services.describe(),
        },
        "variants": variants,
        "targets": targets(variants),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    common.write_json(args.results / "login_latency.json", result)
    write_samples(args.results / "login_latency_samples.csv", run.samples)
    if not args.no_plot:
        title = (
            f"django-postlogin login latency: {args.logins} logins per variant, concurrency "
            f"{args.concurrency}, avatar host {args.avatar_delay:g} s; {machine['cpu']}, "
            f"{machine['cores']} cores; {services.database}, {services.broker}"
        )
        plot(args.results / "login_latency.png", run.samples, args.variants, title)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    common.run_main(main, "login_latency", on_interrupt="interrupted; every process stopped")
