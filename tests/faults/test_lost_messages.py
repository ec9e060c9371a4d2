"""Lost messages against a long queue, with a real worker on Redis and RabbitMQ (PostgreSQL).

A broker that loses its queue (a restart without persistence, a flush, a purge) costs at most a
minute, not RELAY_QUEUED_AFTER (15 minutes); a long but healthy queue is not published again.
The rule itself is tested in tests/test_markers.py. The figures in docs/jobs.md come from these
tests, run with ``-s`` (they print them) and the sizes raised through
``POSTLOGIN_TEST_LOST_JOBS`` and ``POSTLOGIN_TEST_BACKLOG_JOBS``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from django.core import mail

from postlogin import jobs, publish
from postlogin.models import Job, RelayMarker

from ..helpers import celery_app, require_postgresql, running_worker, wait_until
from ..settings import TEST_POSTLOGIN
from .stack import RELAY_EVERY

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOST_JOBS = int(os.environ.get("POSTLOGIN_TEST_LOST_JOBS", "40"))
BACKLOG_JOBS = int(os.environ.get("POSTLOGIN_TEST_BACKLOG_JOBS", "200"))
#: A minute; for the larger measured runs, the time a busy 2-core machine takes for the jobs.
DEADLINE = max(60, LOST_JOBS // 10)

released = threading.Event()


@jobs.register("held_for_test")
def held(job: Job) -> None:
    """A slow handler (a slow avatar host): it waits until the test releases it."""
    released.wait(timeout=120)


@pytest.fixture(autouse=True)
def _defaults(settings: Any) -> Iterator[None]:
    require_postgresql()
    settings.POSTLOGIN = TEST_POSTLOGIN  # RELAY_QUEUED_AFTER and the rest at their defaults
    released.clear()
    yield
    released.set()


@pytest.fixture
def run_job_messages() -> Iterator[list[int]]:
    """The job id of every ``run_job`` message published from now on."""
    published: list[int] = []

    def record(sender: str, body: Any, **kwargs: Any) -> None:
        if sender == publish.RUN_JOB_TASK:
            published.append(body[0][0])

    before_task_publish.connect(record, weak=False)
    try:
        yield published
    finally:
        before_task_publish.disconnect(record)


def queue_jobs(users: list[Any], kind: str) -> list[int]:
    """Record one job per user and publish their messages, as logins do."""
    rows = Job.objects.bulk_create(
        Job(user=user, kind=kind, key="once", payload={"verified_email": user.email})
        for user in users
    )
    ids = [job.pk for job in rows]
    assert sorted(publish.publish(ids)) == sorted(ids)
    assert Job.objects.filter(state="queued").count() == len(ids)
    return ids


def prefetch_limit(app: Celery, concurrency: int) -> int:
    """The most messages a worker holds delivered but not acknowledged."""
    return concurrency * int(app.conf.worker_prefetch_multiplier)


def test_after_the_broker_lost_its_messages_every_job_completes_within_a_minute(
    broker_url: str, django_user_model: Any, run_job_messages: list[int]
) -> None:
    users = [
        django_user_model.objects.create_user(f"u{n}", f"u{n}@example.com")
        for n in range(LOST_JOBS)
    ]
    with celery_app(broker_url) as app:
        ids = queue_jobs(users, "welcome_email")
        assert app.control.purge() >= len(ids), "the queue held every message, now gone"
        lost_at = time.monotonic()
        with running_worker(app, concurrency=4):
            # Beat's schedule: the relay task, every RELAY_EVERY seconds, run by the worker.
            relays = 0

            def all_done() -> bool:
                nonlocal relays
                if time.monotonic() >= lost_at + relays * RELAY_EVERY:
                    app.send_task("postlogin.relay_pending")
                    relays += 1
                return Job.objects.filter(state="done").count() == len(ids)

            try:
                wait_until(all_done, timeout=DEADLINE, interval=0.1)
            except AssertionError:
                states = Counter(Job.objects.values_list("state", flat=True))
                raise AssertionError(f"not done within {DEADLINE} s: {dict(states)}") from None
            recovered_in = time.monotonic() - lost_at
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == sorted(user.email for user in users), "each email once"
    print(
        f"\n{broker_url.split(':')[0]}: {len(ids)} lost jobs done {recovered_in:.1f} s after "
        f"the loss, {relays} relay run(s) every {RELAY_EVERY:g} s, "
        f"{len(run_job_messages) - len(ids)} run_job messages published again"
    )


def test_a_long_healthy_queue_is_not_published_again(
    broker_url: str, django_user_model: Any, run_job_messages: list[int]
) -> None:
    user = django_user_model.objects.create_user("slow", "slow@example.com")
    rows = Job.objects.bulk_create(
        Job(user=user, kind="held_for_test", key=f"k{n}") for n in range(BACKLOG_JOBS)
    )
    concurrency = 2
    with celery_app(broker_url) as app:
        assert sorted(publish.publish([job.pk for job in rows])) == sorted(j.pk for j in rows)
        initial = len(run_job_messages)
        relays = 0
        with running_worker(app, concurrency=concurrency):
            try:
                wait_until(lambda: Job.objects.filter(state="running").count() == concurrency)
                # The queue is long and moving slowly: relay after relay, nothing is lost.
                for _ in range(10):
                    assert publish.relay() == []
                    relays += 1
                assert len(run_job_messages) == initial
            finally:
                released.set()

            def relayed_until_done() -> bool:
                nonlocal relays
                publish.relay()  # as often as it takes: more chances to publish a duplicate
                relays += 1
                return Job.objects.filter(state="done").count() == BACKLOG_JOBS

            wait_until(relayed_until_done, timeout=60 + BACKLOG_JOBS / 20, interval=0.2)
        extra = len(run_job_messages) - initial
        limit = prefetch_limit(app, concurrency)
    print(
        f"\n{broker_url.split(':')[0]}: backlog of {BACKLOG_JOBS}, {relays} relay runs, "
        f"{extra} run_job message(s) published again (prefetch limit {limit})"
    )
    assert extra <= limit, "only messages a worker held unstarted may be published again"
    assert RelayMarker.objects.filter(seen_at__isnull=False).exists(), "markers went through"
    assert Job.objects.filter(state="done", attempts=1).count() == BACKLOG_JOBS
