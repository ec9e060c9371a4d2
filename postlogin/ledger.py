"""State changes of :class:`~postlogin.models.Job` rows.

Every change is one UPDATE with a WHERE on the state it expects, so two workers (or a worker and
the relay) can never both act on the same job: whoever's UPDATE matched a row owns the change.
A claim increments ``attempts``, which then fences the claim: a worker whose lease expired and
whose job was claimed again can no longer record anything for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .conf import postlogin_settings
from .models import Job
from .scrub import get_logger

logger = get_logger(__name__)
State = Job.State


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def claim(job_id: int, *, held: int | None = None) -> Job | None:
    """Take the job for running, or None if it is not claimable (done, failed, or running).

    ``held`` is the attempt of the caller's own earlier claim, still ``running`` because the
    database failed before its outcome was recorded: that claim is taken back at once.
    """
    now = timezone.now()
    claimable = Q(state__in=[State.PENDING, State.QUEUED]) | Q(
        state=State.RUNNING, lease_until__lt=now
    )
    if held is not None:
        claimable |= Q(state=State.RUNNING, attempts=held)
    claimed = (
        Job.objects.filter(claimable, pk=job_id).update(
            state=State.RUNNING,
            attempts=F("attempts") + 1,
            lease_until=now + _seconds(postlogin_settings.JOB_LEASE),
            updated_at=now,
        )
        == 1
    )
    if not claimed:
        return None
    job = Job.objects.get(pk=job_id)
    log_transition(job, "claimed")
    return job


def _fenced(job: Job) -> QuerySet[Job]:
    """The job's row, only while this claim still owns it."""
    return Job.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts)


def mark_done(job: Job) -> bool:
    """Record success. Returns False if the claim was lost (or the job was already done)."""
    now = timezone.now()
    if not _fenced(job).update(
        state=State.DONE,
        lease_until=None,
        finished_at=now,
        updated_at=now,
        last_error="",
        error_code="",
    ):
        return False
    job.state, job.finished_at, job.last_error, job.error_code = State.DONE, now, "", ""
    return True


def mark_failed(job: Job, error: str, code: str = "") -> bool:
    """``error`` is the scrubbed text, ``code`` what the user is told (postlogin.error_codes)."""
    now = timezone.now()
    if not _fenced(job).update(
        state=State.FAILED,
        lease_until=None,
        finished_at=now,
        updated_at=now,
        last_error=error,
        error_code=code,
    ):
        return False
    job.state, job.finished_at, job.last_error, job.error_code = State.FAILED, now, error, code
    return True


def mark_retry(
    job: Job, error: str, countdown: float, *, refund_attempt: bool = False, code: str = ""
) -> bool:
    """Back to ``queued``; the relay re-publishes it if no message claims it in time.

    ``refund_attempt`` gives the claim's attempt back: the job was not tried (rate limited).
    ``error`` and ``code`` as for :func:`mark_failed`.
    """
    now = timezone.now()
    due = now + _seconds(countdown + postlogin_settings.RELAY_QUEUED_AFTER)
    attempts = F("attempts") - 1 if refund_attempt else F("attempts")
    if not _fenced(job).update(
        state=State.QUEUED,
        lease_until=due,
        updated_at=now,
        last_error=error,
        error_code=code,
        attempts=attempts,
    ):
        return False
    job.state, job.lease_until, job.last_error, job.error_code = State.QUEUED, due, error, code
    if refund_attempt:
        job.attempts -= 1
    return True


def mark_queued(
    job_ids: Iterable[int],
    *,
    now: datetime | None = None,
    event: str = "queued",
    lost_before: datetime | None = None,
) -> int:
    """After publishing: pending (or relayed) jobs now wait for their message to be claimed.

    ``event`` names the transition in the log: ``queued`` after a login, ``relayed`` after the
    relay, which passes the ``lost_before`` it chose the jobs with (see :func:`due_for_relay`).
    """
    now = now or timezone.now()
    ids = list(job_ids)
    # One transaction, so that the rows logged are exactly the rows this UPDATE changed: a
    # worker claiming one of them meanwhile waits for the commit.
    with transaction.atomic(savepoint=False):
        changed = Job.objects.filter(
            Q(state=State.PENDING) | due_for_relay(now, lost_before), pk__in=ids
        ).update(
            state=State.QUEUED,
            lease_until=now + _seconds(postlogin_settings.RELAY_QUEUED_AFTER),
            updated_at=now,
        )
        if changed:
            _log_changed(ids, event, state=State.QUEUED, at=now)
    return changed


def mark_published(job_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """After a login published its jobs: ``pending`` -> ``queued``. The same as
    :func:`mark_queued` for rows known to be pending, with a simpler (cheaper) WHERE."""
    now = now or timezone.now()
    ids = list(job_ids)
    with transaction.atomic(savepoint=False):
        changed = Job.objects.filter(pk__in=ids, state=State.PENDING).update(
            state=State.QUEUED,
            lease_until=now + _seconds(postlogin_settings.RELAY_QUEUED_AFTER),
            updated_at=now,
        )
        if changed:
            _log_changed(ids, "queued", state=State.QUEUED, at=now)
    return changed


def mark_unpublished(job_ids: Iterable[int], queued_until: datetime | None) -> int:
    """A login inserted these rows ``queued`` (until ``queued_until``) but their message did not
    go out: back to ``pending``, for the relay. Rows no longer exactly so are left alone."""
    ids = list(job_ids)
    if not ids or queued_until is None:
        return 0
    return Job.objects.filter(pk__in=ids, state=State.QUEUED, lease_until=queued_until).update(
        state=State.PENDING, lease_until=None, updated_at=timezone.now()
    )


def due_for_relay(now: datetime, lost_before: datetime | None = None) -> Q:
    """Jobs whose message never went out, was lost, or whose worker died.

    ``lost_before``: when the newest relay marker that a worker ran was published (see
    :mod:`postlogin.markers`). Every message published before then was delivered, so a job
    still ``queued`` for a message due before then lost it: ``lease_until`` is the message's
    due time (after a retry's countdown) plus ``RELAY_QUEUED_AFTER``.
    """
    stale_pending = Q(
        state=State.PENDING,
        updated_at__lt=now - _seconds(postlogin_settings.RELAY_PENDING_AFTER),
    )
    expired = Q(state__in=[State.QUEUED, State.RUNNING], lease_until__lt=now)
    if lost_before is None:
        return stale_pending | expired
    lost = Q(
        state=State.QUEUED,
        updated_at__lt=lost_before,
        lease_until__lt=lost_before + _seconds(postlogin_settings.RELAY_QUEUED_AFTER),
    )
    return stale_pending | expired | lost


def replay(jobs: QuerySet[Job]) -> list[int]:
    """Send failed jobs round again with a fresh retry budget; publishes them after commit."""
    from .dispatch import publish_after_commit

    now = timezone.now()
    with transaction.atomic():
        ids = list(jobs.filter(state=State.FAILED).values_list("pk", flat=True))
        Job.objects.filter(pk__in=ids, state=State.FAILED).update(
            state=State.PENDING,
            attempts=0,
            last_error="",
            error_code="",
            lease_until=None,
            finished_at=None,
            updated_at=now,
        )
        _log_changed(ids, "replayed", state=State.PENDING, at=now)
        publish_after_commit(ids)
    return ids


def log_transition(
    job: Job, event: str, *, duration: float | None = None, **details: float | str
) -> None:
    """One structured line per transition, for any log stack (fields in ``record.postlogin``).

    ``event`` is one of ``queued``, ``relayed``, ``claimed``, ``retry``, ``done``, ``failed``,
    ``replayed``; ``duration`` is the handler's run time, for the outcomes of a run.
    """
    fields: dict[str, object] = {
        "event": event,
        "job_id": job.pk,
        "user_id": job.user_id,
        "kind": job.kind,
        "state": job.state,
        "attempt": job.attempts,
        "duration_ms": None if duration is None else round(duration * 1000, 1),
        **details,
    }
    extras = {"duration_ms": fields["duration_ms"], **details}
    logger.info(
        "postlogin job %s %s: kind=%s user=%s state=%s attempt=%s%s",
        job.pk,
        event,
        job.kind,
        job.user_id,
        job.state,
        job.attempts,
        "".join(f" {name}={value}" for name, value in extras.items() if value is not None),
        extra={"postlogin": fields},
    )


def _log_changed(job_ids: list[int], event: str, *, state: str, at: datetime) -> None:
    """Log ``event`` for each of ``job_ids`` that an UPDATE at ``at`` left in ``state``."""
    if not job_ids or not logger.isEnabledFor(logging.INFO):
        return
    changed = (
        Job.objects.filter(pk__in=job_ids, state=state, updated_at=at)
        .only("user", "kind", "state", "attempts")
        .order_by("pk")
    )
    for job in changed:
        log_transition(job, event)
