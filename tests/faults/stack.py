"""The processes of a fault scenario, all on the database of a private server: a login front end
(tests/faults/web.py), a Celery worker running beat (the relay), and the migrations first."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postlogin.schedules import beat_schedule

from ..helpers import celery_app, http_server, png, stop_process, wait_until, worker_process
from ..settings import TEST_POSTLOGIN
from .servers import PrivatePostgres

ROOT = Path(__file__).resolve().parent.parent.parent
#: The relay's period in the documented beat schedule.
RELAY_EVERY = beat_schedule()["postlogin-relay-pending"]["schedule"]
#: The scenarios' ledger: relay at once, retry fast; ``JOB_LEASE`` stays at its 300 s default.
LEDGER = {**TEST_POSTLOGIN, "RELAY_PENDING_AFTER": 0, "RETRY_BACKOFF": 0, "RETRY_BACKOFF_MAX": 1}


def held_pictures(
    held: int, release: threading.Event
) -> Callable[[str, int], tuple[int, dict[str, str], bytes]]:
    """A picture host script (for ``helpers.http_server``) whose first ``held`` downloads hang
    until ``release`` is set: avatar jobs in flight when the fault strikes."""

    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if hit <= held:
            release.wait(timeout=90)
        return 200, {"Content-Type": "image/png"}, png(int(path.strip("/u.png")))

    return script


class LoginFrontEnd:
    """Drives ``tests.faults.web``: one Google signup per :meth:`login`."""

    def __init__(self, env: dict[str, str], log: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.web"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )

    def login(self, timeout: float = 30) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"no answer to a login within {timeout} s"
        line = self.process.stdout.readline()
        assert line, "the login front end exited"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        stop_process(self.process, timeout=10)


def avatar_jobs(host: Any, numbers: range) -> list[int]:
    """One avatar job for each new user ``user<n>``, its picture ``<host>/u<n>.png``."""
    from django.contrib.auth import get_user_model

    from postlogin.models import Job

    users = get_user_model().objects
    return [
        Job.objects.create(
            user=users.create_user(f"user{n}"),
            kind="avatar",
            key="k",
            payload={"url": host.url(f"/u{n}.png")},
        ).pk
        for n in numbers
    ]


@dataclass
class Scenario:
    web: LoginFrontEnd
    worker: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    emails: Path

    def sign_up(self) -> None:
        """One signup, which must succeed."""
        answer = self.web.login()
        assert answer["location"] == "/done/", (answer, self.log.read_text()[-3000:])

    def wait_until_all_done(
        self, database: PrivatePostgres, jobs: int, *, timeout: float = 60
    ) -> None:
        """Until ``jobs`` jobs are done; on failure, says where each job is, and the log."""

        def all_done() -> bool:
            states = database.job_states()
            return sum(n for (_kind, state), n in states.items() if state == "done") == jobs

        try:
            wait_until(all_done, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(
                f"not all {jobs} jobs done within {timeout} s: {database.job_states()}\n"
                f"{self.log.read_text()[-4000:]}"
            ) from None

    def wait_until_states(
        self, database: PrivatePostgres, states: dict[tuple[str, str], int]
    ) -> None:
        """Until the jobs are exactly in ``states`` (``(kind, state) -> count``)."""
        try:
            wait_until(lambda: database.job_states() == states, timeout=60, interval=0.2)
        except AssertionError:
            raise AssertionError(
                f"jobs not {states} within 60 s: {database.job_states()}\n"
                f"{self.log.read_text()[-4000:]}"
            ) from None

    def recipients(self) -> list[str]:
        """Every welcome email sent, by recipient (Django's file backend may put two messages
        in one file: count messages, not files)."""
        if not self.emails.exists():
            return []
        return sorted(
            line.removeprefix("To: ")
            for path in self.emails.iterdir()
            for line in path.read_text().splitlines()
            if line.startswith("To: ")
        )


@contextmanager
def scenario(
    tmp_path: Path,
    *,
    database_url: str,
    broker_url: str,
    pictures: str,
    postlogin: dict[str, Any],
    concurrency: int = 8,
) -> Iterator[Scenario]:
    """Migrate the database, then run the worker (with beat) and the login front end on it."""
    emails, log = tmp_path / "emails", tmp_path / "processes.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "POSTLOGIN_TEST_BROKER_URL": broker_url,
        "POSTLOGIN_TEST_SETTINGS": json.dumps(postlogin),
        "POSTLOGIN_TEST_MEDIA_ROOT": str(tmp_path / "media"),
        "POSTLOGIN_TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "POSTLOGIN_TEST_EMAIL_DIR": str(emails),
        "POSTLOGIN_TEST_PICTURES": pictures,
        "POSTLOGIN_TEST_RELAY_EVERY": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )
    with log.open("ab") as output, ExitStack() as stack:
        worker = stack.enter_context(
            worker_process(
                broker_url,
                env,
                concurrency=concurrency,
                database_url=database_url,
                beat_schedule_file=str(tmp_path / "celerybeat-schedule"),
                output=output,
            )
        )
        web = LoginFrontEnd(env, output)
        stack.callback(web.stop)
        yield Scenario(web=web, worker=worker, env=env, log=log, emails=emails)


@contextmanager
def jobs_in_flight(
    tmp_path: Path, database: PrivatePostgres, broker_url: str, users: int, release: threading.Event
) -> Iterator[Scenario]:
    """A scenario on ``database`` after ``users`` signups: their welcome emails sent, their
    avatar downloads in flight (hanging until ``release`` is set)."""
    with (
        http_server(held_pictures(users, release)) as host,
        scenario(
            tmp_path,
            database_url=database.url,
            broker_url=broker_url,
            pictures=host.url(""),
            postlogin=LEDGER,
        ) as stack,
    ):
        for _ in range(users):
            stack.sign_up()
        stack.wait_until_states(
            database, {("welcome_email", "done"): users, ("avatar", "running"): users}
        )
        yield stack


@dataclass(frozen=True)
class HeldDownloads:
    """A broker scenario's parts: the picture host, the worker process and its log file."""

    host: Any
    worker: subprocess.Popen[bytes]
    log: Path

    def wait_until_all_done(self, count: int) -> None:
        """Every one of ``count`` jobs done within a minute, or the states and the worker's log."""
        from postlogin.models import Job

        try:
            wait_until(lambda: Job.objects.filter(state="done").count() == count, timeout=60)
        except AssertionError:
            states = list(Job.objects.values_list("pk", "state", "attempts", "last_error"))
            raise AssertionError(f"{states}\n{self.log.read_text()[-4000:]}") from None


@contextmanager
def held_downloads(
    broker_url: str,
    tmp_path: Path,
    settings: Any,
    ledger: dict[str, Any],
    released: threading.Event,
    *,
    held: int,
) -> Iterator[HeldDownloads]:
    """A worker (running beat, so the relay) on ``broker_url``, ``held`` threads, and a picture
    host whose first ``held`` downloads hang until ``released`` is set: the worker has those
    in flight while the test breaks the broker. The test process and the worker share
    ``ledger`` (the ``POSTLOGIN`` settings) and a media folder under ``tmp_path``."""

    settings.POSTLOGIN = ledger
    settings.MEDIA_ROOT = str(tmp_path / "media")
    env = {
        "POSTLOGIN_TEST_SETTINGS": json.dumps(ledger),
        "POSTLOGIN_TEST_MEDIA_ROOT": settings.MEDIA_ROOT,
        "POSTLOGIN_TEST_RELAY_EVERY": str(RELAY_EVERY),
    }
    log = tmp_path / "worker.log"
    with (
        http_server(held_pictures(held, released)) as host,
        celery_app(broker_url),
        log.open("wb") as output,
        worker_process(
            broker_url,
            env,
            concurrency=held,
            beat_schedule_file=str(tmp_path / "celerybeat-schedule"),
            output=output,
        ) as worker,
    ):
        yield HeldDownloads(host=host, worker=worker, log=log)
