"""Relay markers (postlogin.markers): the rule that tells a lost message from a long queue.

On kombu's in-memory broker; a test plays the worker by running the marker task itself. The
same rule with real workers on Redis and RabbitMQ: tests/faults/test_lost_messages.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.db.models.functions import Now
from django.utils import timezone

from postlogin import publish, tasks
from postlogin.markers import MARKER_TASK
from postlogin.models import Job, RelayMarker
from postlogin.publish import RUN_JOB_TASK

from .helpers import celery_app, unused_port

pytestmark = pytest.mark.django_db
MakeJob = Callable[..., Job]
Published = list[tuple[str, tuple[Any, ...]]]

#: The default RELAY_QUEUED_AFTER: the deadline that markers make unnecessary to wait for.
QUEUED_AFTER = timedelta(seconds=900)


def queued_job(make_job: MakeJob, key: str, *, due_in: float = 0.0) -> Job:
    """A job waiting for its message, as a login or the relay leaves it; ``due_in`` seconds
    is a retry's countdown (``ledger.mark_retry`` stores it in the lease)."""
    now = timezone.now()
    return make_job(
        key=key,
        state="queued",
        updated_at=now,
        lease_until=now + timedelta(seconds=due_in) + QUEUED_AFTER,
    )


def split(published: Published) -> tuple[list[int], list[int]]:
    """(job ids of run_job messages, marker ids) in publishing order."""
    jobs = [args[0] for name, args in published if name == RUN_JOB_TASK]
    marker_ids = [args[0] for name, args in published if name == MARKER_TASK]
    assert len(jobs) + len(marker_ids) == len(published), published
    return jobs, marker_ids


def run_markers(marker_ids: list[int]) -> None:
    """What a worker does when it reaches the markers in the queue."""
    for marker_id in marker_ids:
        assert tasks.relay_marker(marker_id) is True


def test_a_queued_job_is_published_again_once_a_worker_ran_a_marker_behind_it(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    job = queued_job(make_job, "lost")
    assert publish.relay() == []
    jobs, first = split(memory_broker())
    assert (jobs, len(first)) == ([], 1), "a marker goes out behind the waiting job"
    assert publish.relay() == [], "while no worker has reached a marker, the job only waits"
    jobs, second = split(memory_broker())
    assert (jobs, len(second)) == ([], 1), "a new marker each run"

    # The queue was emptied (a flush): the worker never sees the first marker, only the next.
    run_markers(second)
    assert publish.relay() == [job.pk]
    job.refresh_from_db()
    assert job.state == "queued"
    assert job.lease_until is not None
    assert job.lease_until > timezone.now() + QUEUED_AFTER / 2
    jobs, markers = split(memory_broker())
    assert (jobs, len(markers)) == ([job.pk], 1), "its message, then a marker behind it"
    assert publish.relay() == [], "one marker publishes a lost job once"


def test_a_job_queued_after_the_marker_was_published_is_left_waiting(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    queued_job(make_job, "first")
    publish.relay()
    _jobs, marker_ids = split(memory_broker())
    later = queued_job(make_job, "later")  # its message is behind the marker
    run_markers(marker_ids)
    sent = publish.relay()
    assert later.pk not in sent
    assert len(sent) == 1


def test_a_retry_waiting_for_its_countdown_is_not_lost(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    # The worker holds a retry's message until its countdown ends: the marker behind it is
    # run before then, yet the message is not lost.
    waiting = queued_job(make_job, "retry", due_in=60)
    plain = queued_job(make_job, "plain")
    publish.relay()
    _jobs, marker_ids = split(memory_broker())
    run_markers(marker_ids)
    assert publish.relay() == [plain.pk]
    plain.delete()

    # A marker published after its countdown ended, and run: the message is lost after all.
    Job.objects.filter(pk=waiting.pk).update(lease_until=timezone.now() + QUEUED_AFTER)
    publish.relay()
    _jobs, marker_ids = split(memory_broker())
    run_markers(marker_ids)
    assert publish.relay() == [waiting.pk]


def test_a_long_queue_keeps_the_markers_behind_it_and_nothing_is_published_again(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    for n in range(50):
        queued_job(make_job, f"k{n}")
    for _ in range(5):
        assert publish.relay() == []
    jobs, marker_ids = split(memory_broker())
    assert (jobs, len(marker_ids)) == ([], 5)
    assert RelayMarker.objects.filter(seen_at__isnull=True).count() == 5


def test_a_marker_published_while_a_relay_sends_does_not_make_its_jobs_look_lost(
    make_job: MakeJob, memory_broker: Callable[[], Published], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = timezone.now() - timedelta(minutes=1)
    for n in range(3):
        make_job(key=f"pending{n}", updated_at=old)
    real_send = publish.send_run_job

    def send_while_another_relay_marks(job_id: int) -> None:
        real_send(job_id)
        if not RelayMarker.objects.exists():
            # Another relay's marker, published after this message and before the next one,
            # and run by a worker at once: the next messages are behind it, not lost.
            RelayMarker.objects.create(published_at=Now(), seen_at=Now())

    monkeypatch.setattr(publish, "send_run_job", send_while_another_relay_marks)
    assert len(publish.relay()) == 3
    monkeypatch.undo()
    assert publish.relay() == []


def test_no_marker_without_a_job_waiting_for_its_message(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    assert publish.relay() == []
    queued_job(make_job, "retry", due_in=60)
    make_job(key="done", state="done")
    assert publish.relay() == []
    assert memory_broker() == []
    assert not RelayMarker.objects.exists()


def test_no_marker_when_the_broker_refuses(make_job: MakeJob) -> None:
    queued_job(make_job, "waiting")
    make_job(key="pending", updated_at=timezone.now() - timedelta(minutes=1))
    with celery_app(f"redis://127.0.0.1:{unused_port()}/0"):
        assert publish.relay() == []  # the pending job's publish fails: no marker is tried
        Job.objects.filter(state="pending").delete()
        assert publish.relay() == []  # the marker's publish fails: its row goes
    assert not RelayMarker.objects.exists()


def test_markers_that_can_tell_nothing_more_are_deleted(
    make_job: MakeJob, memory_broker: Callable[[], Published]
) -> None:
    queued_job(make_job, "waiting")
    for _ in range(3):
        publish.relay()
    _jobs, (first, second, third) = split(memory_broker())
    RelayMarker.objects.filter(pk=first).update(published_at=timezone.now() - 2 * QUEUED_AFTER)
    run_markers([second])
    publish.relay()
    assert set(RelayMarker.objects.values_list("pk", flat=True)) >= {second, third}
    assert not RelayMarker.objects.filter(pk=first).exists(), "older than the deadline"
    run_markers([third])
    publish.relay()
    assert not RelayMarker.objects.filter(pk=second).exists(), "a newer one was run"
    assert tasks.relay_marker(second) is False, "a pruned marker reaching a worker is harmless"


@pytest.fixture
def routing_keys() -> Iterator[dict[str, set[str]]]:
    """The routing key of each task published meanwhile, by task name."""
    seen: dict[str, set[str]] = {}

    def record(sender: str, routing_key: str, **kwargs: Any) -> None:
        seen.setdefault(sender, set()).add(routing_key)

    before_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        before_task_publish.disconnect(record)


@pytest.mark.parametrize(
    ("conf", "postlogin", "queue"),
    [
        ({}, {"TASK_QUEUE": "postlogin"}, "postlogin"),
        ({"task_routes": {RUN_JOB_TASK: {"queue": "jobs"}}}, {}, "jobs"),
    ],
)
def test_the_marker_goes_where_run_job_messages_go(
    make_job: MakeJob,
    routing_keys: dict[str, set[str]],
    settings: Any,
    conf: dict[str, Any],
    postlogin: dict[str, Any],
    queue: str,
) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, **postlogin}
    make_job(key="pending", updated_at=timezone.now() - timedelta(minutes=1))
    with celery_app("memory://", **conf):
        assert len(publish.relay()) == 1
    assert routing_keys == {RUN_JOB_TASK: {queue}, MARKER_TASK: {queue}}
