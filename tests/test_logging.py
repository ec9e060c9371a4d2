"""One structured log line per job transition, with the fields in ``record.postlogin``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from postlogin import enqueue, jobs, publish, runner
from postlogin.models import Job

pytestmark = pytest.mark.django_db
FIELDS = {"event", "job_id", "user_id", "kind", "state", "attempt", "duration_ms"}
#: Transitions that are not the outcome of a run carry no duration.
NO_RUN = {"duration_ms": None}


@pytest.fixture
def flaky_kind() -> Iterator[list[str]]:
    """A ``flaky`` kind whose handler does what the next item of the list says."""
    script: list[str] = []

    def handler(job: Job) -> None:
        action = script.pop(0)
        if action == "transient":
            raise ConnectionError("provider unreachable")
        if action == "permanent":
            raise jobs.PermanentJobError("no such picture")

    jobs.register("flaky", plan=jobs.once)(handler)
    yield script
    jobs.unregister("flaky")


@pytest.fixture
def transitions(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The ``record.postlogin`` fields logged so far; each call returns the new ones."""
    caplog.set_level(logging.INFO, logger="postlogin.ledger")
    seen = 0

    def new() -> list[dict[str, Any]]:
        nonlocal seen
        records = [r for r in caplog.records if r.name == "postlogin.ledger"]
        fresh, seen = records[seen:], len(records)
        assert all(hasattr(record, "postlogin") for record in fresh), "unstructured line"
        return [record.postlogin for record in fresh]  # type: ignore[attr-defined]

    return new


def test_a_jobs_whole_life_is_logged_once_per_transition(
    make_job: Callable[..., Job],
    flaky_kind: list[str],
    memory_broker: Any,
    transitions: Callable[[], list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = make_job(kind="flaky")
    flaky_kind.extend(["transient", "permanent", "ok"])
    expected = {"job_id": job.pk, "user_id": job.user_id, "kind": "flaky"}

    publish.publish([job.pk])
    (queued,) = transitions()
    assert set(queued) == FIELDS
    assert queued == {**expected, "event": "queued", "state": "queued", "attempt": 0, **NO_RUN}

    assert runner.run(job.pk).state == "retry"
    claimed, retry = transitions()
    assert claimed == {**expected, "event": "claimed", "state": "running", "attempt": 1, **NO_RUN}
    assert (retry["event"], retry["state"], retry["attempt"]) == ("retry", "queued", 1)
    assert retry["duration_ms"] >= 0
    assert retry["countdown_s"] >= 0

    assert runner.run(job.pk).state == "failed"
    claimed, failed = transitions()
    assert (claimed["event"], claimed["attempt"]) == ("claimed", 2)
    assert (failed["event"], failed["state"], failed["attempt"]) == ("failed", "failed", 2)
    assert failed["duration_ms"] >= 0

    with django_capture_on_commit_callbacks(execute=True):
        enqueue.replay(Job.objects.filter(pk=job.pk))
    replayed, queued = transitions()
    assert (replayed["event"], replayed["state"], replayed["attempt"]) == ("replayed", "pending", 0)
    assert (queued["event"], queued["state"]) == ("queued", "queued")

    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert publish.relay() == [job.pk]
    (relayed,) = transitions()
    assert (relayed["event"], relayed["state"]) == ("relayed", "queued")

    assert runner.run(job.pk).state == "done"
    claimed, done = transitions()
    assert (claimed["event"], claimed["attempt"]) == ("claimed", 1)
    assert done["duration_ms"] >= 0
    assert {**done, **NO_RUN} == {
        **expected,
        "event": "done",
        "state": "done",
        "attempt": 1,
        **NO_RUN,
    }

    assert runner.run(job.pk).state == "skipped"
    assert transitions() == [], "a duplicate delivery changes nothing, so logs no transition"


def test_the_line_reads_well_without_the_structured_fields(
    make_job: Callable[..., Job], flaky_kind: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    job = make_job(kind="flaky")
    flaky_kind.append("transient")
    with caplog.at_level(logging.INFO, logger="postlogin.ledger"):
        runner.run(job.pk)
    lines = [r.getMessage() for r in caplog.records if r.name == "postlogin.ledger"]
    assert lines[0] == f"postlogin job {job.pk} claimed: kind=flaky user={job.user_id} " + (
        "state=running attempt=1"
    )
    assert lines[1].startswith(f"postlogin job {job.pk} retry: kind=flaky user={job.user_id} ")
    assert " duration_ms=" in lines[1]
    assert " countdown_s=" in lines[1]


def test_only_the_jobs_this_publish_queued_are_logged(
    make_job: Callable[..., Job], memory_broker: Any, transitions: Callable[[], list[Any]]
) -> None:
    waiting, running = make_job(key="a"), make_job(key="b", state="running")
    publish.publish([waiting.pk, running.pk])
    assert [(t["event"], t["job_id"]) for t in transitions()] == [("queued", waiting.pk)]


def test_no_query_for_log_fields_when_info_is_off(
    make_job: Callable[..., Job],
    memory_broker: Any,
    caplog: pytest.LogCaptureFixture,
    django_assert_num_queries: Any,
) -> None:
    job = make_job()
    caplog.set_level(logging.WARNING, logger="postlogin.ledger")
    with django_assert_num_queries(1):  # the UPDATE to queued
        publish.publish([job.pk])
