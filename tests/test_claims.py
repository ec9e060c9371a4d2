"""The claim: the attempt budget holds when workers die, fences never repeat, one clock.

Run on PostgreSQL and on SQLite (``DATABASE_URL``): both must agree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postlogin import dispatch, enqueue, ledger, publish, runner
from postlogin.events import LoginEvent, ProviderProfile
from postlogin.models import Job

from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db
MakeJob = Callable[..., Job]
SKEW = 600  # seconds: an app server whose clock is ten minutes off


def refreshed(job: Job) -> Job:
    job.refresh_from_db()
    return job


def expire(job: Job) -> None:
    """The lease (or queue deadline) of ``job`` ran out: its worker died, or took too long."""
    Job.objects.filter(pk=job.pk).update(lease_until=Now() - timedelta(seconds=1))


def db_now() -> datetime:
    """The database's clock."""
    now = get_user_model().objects.annotate(db_now=Now()).values_list("db_now", flat=True)[0]
    assert isinstance(now, datetime)
    return now


@pytest.fixture
def budget_of_three(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "MAX_RETRIES": 2}


# --- the attempt budget -------------------------------------------------------------------------


def test_a_job_whose_workers_keep_dying_is_failed_by_the_claim_after_its_budget(
    make_job: MakeJob,
    recorded_kind: list[Any],
    signals: dict[str, list[Any]],
    budget_of_three: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = make_job(kind="test")
    for attempt in (1, 2, 3):
        claimed = ledger.claim(job.pk)
        assert claimed is not None
        assert (claimed.state, claimed.attempts) == ("running", attempt)
        expire(job)  # the worker died mid-run; the relay publishes the job again
    caplog.set_level(logging.INFO, logger="postlogin.ledger")
    with CaptureQueriesContext(connection) as queries:
        assert runner.run(job.pk) == runner.Outcome("failed")
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1, "the claim fails the job in its one conditional UPDATE"
    assert recorded_kind == [], "not run a fourth time"
    job = refreshed(job)
    assert (job.state, job.attempts, job.lease_until) == ("failed", 3, None)
    assert job.finished_at is not None
    assert job.last_error.startswith("WorkerLost: 3 attempts of 3 used; the last ended without")
    assert signals == {"succeeded": [], "failed": [(job.pk, "WorkerLost")]}
    logged = [r.postlogin for r in caplog.records if hasattr(r, "postlogin")]
    assert [(f["event"], f["state"], f["attempt"]) for f in logged] == [("failed", "failed", 3)]
    assert runner.run(job.pk) == runner.Outcome("skipped")


def test_a_queued_job_beyond_its_budget_is_failed_not_run(
    make_job: MakeJob,
    recorded_kind: list[Any],
    signals: dict[str, list[Any]],
    budget_of_three: None,
) -> None:
    job = make_job(kind="test", state="queued", attempts=500)
    assert runner.run(job.pk) == runner.Outcome("failed")
    assert recorded_kind == []
    job = refreshed(job)
    assert (job.state, job.attempts) == ("failed", 500)
    assert job.last_error.startswith("WorkerLost: 500 attempts of 3 used")
    assert signals["failed"] == [(job.pk, "WorkerLost")]


def test_the_last_attempt_still_runs_and_a_rate_limit_refund_keeps_it(
    make_job: MakeJob, recorded_kind: list[Any], budget_of_three: None
) -> None:
    job = make_job(kind="test", state="queued", attempts=2)
    assert runner.run(job.pk) == runner.Outcome("done")
    assert recorded_kind == [job.pk]
    refunded = make_job(kind="test", key="refunded", state="queued", attempts=2)
    claimed = ledger.claim(refunded.pk)
    assert claimed is not None
    assert ledger.mark_retry(claimed, "RetryLater: rate limited", 0, refund_attempt=True)
    claimed = ledger.claim(refunded.pk)
    assert claimed is not None
    assert (claimed.state, claimed.attempts) == ("running", 3)


# --- fencing ------------------------------------------------------------------------------------


def test_a_stale_claim_records_nothing_after_a_replay_restarted_the_attempts(
    make_job: MakeJob, budget_of_three: None
) -> None:
    job = make_job()
    a = ledger.claim(job.pk)
    assert a is not None
    assert a.attempts == 1
    expire(job)  # A's lease runs out while A is still working
    b = ledger.claim(job.pk)
    assert b is not None
    assert b.attempts == 2
    assert ledger.mark_failed(b, "PermanentJobError: bad input")
    assert enqueue.replay(Job.objects.filter(pk=job.pk)) == [job.pk]
    c = ledger.claim(job.pk)
    assert c is not None
    assert c.attempts == a.attempts == 1, "the replay gave the budget back"
    # A wakes up: whatever it records is refused, and C's run goes on.
    assert ledger.mark_done(a) is False
    assert ledger.mark_failed(a, "late") is False
    assert ledger.mark_retry(a, "late", 0) is False
    assert ledger.mark_retry(b, "late", 0) is False
    assert c.claims > b.claims > a.claims, "the fence never repeats"
    assert (refreshed(job).state, refreshed(job).claims) == ("running", c.claims)
    assert ledger.mark_done(c) is True
    assert refreshed(job).state == "done"


# --- one clock: the database's ------------------------------------------------------------------


@pytest.fixture(params=[SKEW, -SKEW], ids=["ahead", "behind"])
def skewed_clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """This process's clock runs ``param`` seconds off (the database's does not)."""
    offset: int = request.param
    real_now, real_time = timezone.now, time.time
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=offset))
    monkeypatch.setattr(time, "time", lambda: real_time() + offset)
    return offset


def test_a_skewed_host_neither_steals_a_live_lease_nor_keeps_an_expired_one(
    make_job: MakeJob, skewed_clock: int
) -> None:
    # Another host claimed both jobs (by the database's clock, with JOB_LEASE = 300 s); the
    # worker running ``dead`` died and its lease ran out a second ago.
    live, dead = make_job(key="live"), make_job(key="dead")
    Job.objects.filter(pk__in=[live.pk, dead.pk]).update(
        state="running", attempts=1, lease_until=Now() + timedelta(seconds=300)
    )
    expire(dead)
    assert ledger.claim(live.pk) is None, "a live lease was stolen"
    assert list(Job.objects.filter(ledger.due_for_relay()).values_list("pk", flat=True)) == [
        dead.pk
    ]
    taken = ledger.claim(dead.pk)
    assert taken is not None, "an expired lease was kept"
    assert taken.attempts == 2


def test_a_skewed_host_sets_due_times_and_timestamps_by_the_database_clock(
    user: Any, make_job: MakeJob, skewed_clock: int, settings: Any
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "RELAY_QUEUED_AFTER": 900, "RELAY_PENDING_AFTER": 5}

    def close_to(value: datetime | None, expected: datetime) -> bool:
        return value is not None and abs((value - expected).total_seconds()) < 60

    # A login's rows: due for the relay 900 s from the database's now, not this host's.
    event = LoginEvent(
        user_id=user.pk,
        provider="google",
        is_new=True,
        profile=ProviderProfile(avatar_url="https://lh3.googleusercontent.com/a/ada"),
    )
    recorded = dispatch.record_jobs(event)
    assert len(recorded.queued) == 2
    now = db_now()
    for job in Job.objects.all():
        assert close_to(job.lease_until, now + timedelta(seconds=900))
        assert close_to(job.created_at, now)
        assert close_to(job.updated_at, now)
    assert publish.relay() == [], "nothing is due yet"

    # A retry is due after its countdown plus the queue deadline, by the database's clock.
    job = Job.objects.get(kind="avatar")
    claimed = ledger.claim(job.pk)
    assert claimed is not None
    assert close_to(claimed.lease_until, db_now() + timedelta(seconds=300))
    assert ledger.mark_retry(claimed, "ConnectionError: later", 30)
    assert close_to(claimed.lease_until, db_now() + timedelta(seconds=930))

    # Finishing stamps the database's time.
    other = ledger.claim(Job.objects.get(kind="welcome_email").pk)
    assert other is not None
    assert ledger.mark_done(other)
    assert close_to(other.finished_at, db_now())
    assert close_to(refreshed(other).updated_at, db_now())

    # A row pending for a moment is not yet due however the host's clock runs; once pending
    # past RELAY_PENDING_AFTER by the database's clock, it is.
    pending = make_job(key="pending")
    assert pending.pk not in publish.relay()
    Job.objects.filter(pk=pending.pk).update(updated_at=Now() - timedelta(seconds=6))
    assert publish.relay() == [pending.pk]
    assert close_to(refreshed(pending).lease_until, db_now() + timedelta(seconds=900))
