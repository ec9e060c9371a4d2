"""Pruning the ledger: old finished jobs go, in bounded batches; once-per-user rows stay."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from postlogin import dispatch, jobs, prune, runner, tasks
from postlogin.events import LoginEvent, ProviderProfile
from postlogin.models import Job

from .helpers import require_postgresql
from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db
MakeJob = Callable[..., Job]
DAY = timedelta(days=1)


def aged(make_job: MakeJob, age: timedelta, **fields: Any) -> Job:
    """A job whose last state change was ``age`` ago."""
    return make_job(updated_at=timezone.now() - age, **fields)


def remaining() -> set[str]:
    return set(Job.objects.values_list("key", flat=True))


def test_done_and_failed_jobs_past_their_retention_are_deleted(make_job: MakeJob) -> None:
    aged(make_job, 31 * DAY, key="done-31d", state="done")
    aged(make_job, 29 * DAY, key="done-29d", state="done")
    aged(make_job, 31 * DAY, key="failed-31d", state="failed")
    aged(make_job, 91 * DAY, key="failed-91d", state="failed")
    for state in ("pending", "queued", "running"):
        aged(make_job, 400 * DAY, key=f"{state}-400d", state=state)
    # Once-per-user work: its row is what stops it from being planned again.
    aged(make_job, 400 * DAY, kind="welcome_email", key=jobs.ONCE, state="done")
    aged(make_job, 400 * DAY, kind="crm", key=jobs.ONCE, state="failed")

    pruned = prune.prune()

    assert (pruned.done, pruned.failed) == (1, 1)
    assert remaining() == {
        "done-29d",
        "failed-31d",
        "pending-400d",
        "queued-400d",
        "running-400d",
        jobs.ONCE,
    }
    assert Job.objects.filter(key=jobs.ONCE).count() == 2


def test_retention_follows_the_settings(make_job: MakeJob, settings: Any) -> None:
    aged(make_job, timedelta(hours=2), key="done", state="done")
    aged(make_job, timedelta(hours=2), key="failed", state="failed")
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "PRUNE_DONE_AFTER": 3600}
    assert prune.prune().total == 1
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "PRUNE_FAILED_AFTER": 3600}
    assert prune.prune().total == 1
    assert remaining() == set()


def test_age_is_measured_by_the_database_clock(make_job: MakeJob) -> None:
    aged(make_job, DAY, key="recent", state="done")
    # A host whose clock runs a year ahead prunes nothing more than any other.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + 365 * DAY):
        assert prune.prune().total == 0
    assert remaining() == {"recent"}


def test_batches_are_bounded_in_size_and_number(make_job: MakeJob, settings: Any) -> None:
    for n in range(5):
        aged(make_job, 40 * DAY + n * timedelta(minutes=1), key=f"done-{n}", state="done")
    aged(make_job, 100 * DAY, key="failed", state="failed")
    # Oldest first: after two batches of two, the newest done row is left for the next run.
    pruned = prune.prune(batch_size=2, max_batches=2)
    assert (pruned.done, pruned.failed, pruned.batches) == (4, 0, 2)
    assert remaining() == {"done-0", "failed"}
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "PRUNE_BATCH_SIZE": 2, "PRUNE_MAX_BATCHES": 3}
    pruned = prune.prune()
    assert (pruned.done, pruned.failed, pruned.batches) == (1, 1, 2)
    assert remaining() == set()


def test_a_batch_starts_where_the_previous_one_ended(make_job: MakeJob) -> None:
    """Rows a batch had to keep (once rows, rows locked by others) are not scanned again."""
    aged(make_job, 50 * DAY, kind="welcome_email", key=jobs.ONCE, state="done")
    for n in range(3):
        aged(make_job, 40 * DAY - n * timedelta(minutes=1), key=f"done-{n}", state="done")
    deleted, end = prune.delete_batch("done", 30 * 86400, 2)
    assert deleted == 2
    assert end is not None
    # A row before where the batch ended (it stood for one it skipped) is left to the next run.
    aged(make_job, 45 * DAY, key="skipped", state="done")
    assert prune.delete_batch("done", 30 * 86400, 2, after=end)[0] == 1
    assert remaining() == {jobs.ONCE, "skipped"}
    assert prune.delete_batch("done", 30 * 86400, 2)[0] == 1


def test_prune_command_and_task(make_job: MakeJob) -> None:
    aged(make_job, 31 * DAY, key="a", state="done")
    aged(make_job, 91 * DAY, key="b", state="failed")
    out = StringIO()
    call_command("postlogin", "prune", "--batch-size", "1", stdout=out)
    assert out.getvalue().strip() == "1 done and 1 failed job(s) deleted in 4 batch(es)"
    aged(make_job, 31 * DAY, key="c", state="done")
    assert tasks.prune_jobs() == 1
    with pytest.raises(CommandError, match="not a positive integer"):
        call_command("postlogin", "prune", "--max-batches", "0")


@pytest.fixture
def once_kind() -> Iterator[list[int]]:
    """``crm_welcome``: once-per-user work that counts its runs."""
    runs: list[int] = []
    jobs.register("crm_welcome", plan=jobs.once)(lambda job: runs.append(job.pk))
    yield runs
    jobs.unregister("crm_welcome")


def login(user: Any, *, is_new: bool) -> list[int]:
    """Record a login's jobs and run them, as the worker would."""
    event = LoginEvent(
        user_id=user.pk,
        provider="google",
        is_new=is_new,
        profile=ProviderProfile(uid="1", email=user.email, email_verified=True),
    )
    with transaction.atomic():
        recorded = dispatch.record_jobs(event)
    for job_id in recorded.ids:
        runner.run(job_id)
    return recorded.ids


def test_after_a_prune_once_only_work_does_not_run_again(user: Any, once_kind: list[int]) -> None:
    with override_settings(
        POSTLOGIN={
            **TEST_POSTLOGIN,
            "LOGIN_JOBS": ("crm_welcome",),
            "SIGNUP_JOBS": ("welcome_email",),
        }
    ):
        assert len(login(user, is_new=True)) == 2
        assert len(mail.outbox) == 1
        assert len(once_kind) == 1
        Job.objects.update(updated_at=timezone.now() - 1000 * DAY)
        prune.prune()
        # Signing up again (the same account through the other auth stack) or logging in.
        assert login(user, is_new=True) == []
        assert login(user, is_new=False) == []
    assert len(mail.outbox) == 1
    assert len(once_kind) == 1
    assert set(Job.objects.values_list("kind", "key")) == {
        ("welcome_email", jobs.ONCE),
        ("crm_welcome", jobs.ONCE),
    }


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_rows_locked_by_others_are_skipped_not_waited_for(make_job: MakeJob) -> None:
    require_postgresql()
    locked = aged(make_job, 31 * DAY, key="locked", state="done")
    aged(make_job, 31 * DAY, key="free", state="done")
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                Job.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        # A lock_timeout turns waiting for the lock into an error instead of a hang.
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        assert prune.prune().done == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        holder.join(timeout=10)
    assert remaining() == {"locked"}
    assert prune.prune().done == 1
