"""Fault: the database drops the worker's connection while a job runs (a PostgreSQL restart or
failover seen from one connection), on the suite's own PostgreSQL: the job's run is taken back
and finished at once, not left ``running`` until its lease expires."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connection

from postlogin.models import Job, Profile

from ..helpers import celery_app, http_server, require_postgresql, running_worker, wait_until
from ..settings import TEST_POSTLOGIN

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def drop_other_connections() -> int:
    """Terminate every other session on the test database, as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def test_connection_dropped_under_a_running_job_is_retried_not_left_to_the_lease(
    broker_url: str, user: Any, png_bytes: Any, settings: Any
) -> None:
    require_postgresql()
    # The lease is the old, slow path: long enough that waiting for it fails the test.
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "JOB_LEASE": 300, "DATABASE_RETRY_MAX": 1}
    downloading, release = threading.Event(), threading.Event()

    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if hit == 1:
            downloading.set()
            release.wait(timeout=30)
        return 200, {"Content-Type": "image/png"}, png_bytes()

    with http_server(script) as host, celery_app(broker_url) as app:
        job = Job.objects.create(
            user=user, kind="avatar", key="k", payload={"url": host.url("/a.png")}
        )
        with running_worker(app, concurrency=1):
            app.send_task("postlogin.run_job", (job.pk,))
            assert downloading.wait(timeout=20), "the avatar download did not start"
            assert drop_other_connections() >= 1
            release.set()
            started = time.monotonic()
            wait_until(lambda: Job.objects.get(pk=job.pk).state == "done", timeout=30)
            recovery = time.monotonic() - started
            print(f"connection dropped: the job done {recovery:.1f} s later")
    job.refresh_from_db()
    # Attempt 1 was interrupted by the dropped connection; attempt 2 took its claim back.
    assert job.attempts == 2
    assert Profile.objects.get(user=user).avatar
    assert len(host.hits) == 2
    assert recovery < 30


def test_the_relay_during_a_database_outage_logs_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from postlogin import publish, tasks

    def database_down(batch_size: int | None = None) -> list[int]:
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    monkeypatch.setattr(publish, "relay", database_down)
    with caplog.at_level(logging.WARNING, logger="postlogin.tasks"):
        assert tasks.relay_pending() == 0
    assert "relay skipped: the database failed (OperationalError: connection to" in caplog.text
