"""State changes of :class:`~postlogin.models.Job` rows.

Every change is one UPDATE with a WHERE on the state it expects, so two workers (or a worker and
the relay) can never both act on the same job: whoever's UPDATE matched a row owns the change.

A claim increments ``claims``, which then fences it: a worker whose lease expired and whose job
was claimed again can no longer record anything for it. ``claims`` is never reset, so a fence
never repeats; ``attempts``, the retry budget, is separate (a replay starts it again).

Every time compared across processes (leases, due times, ``updated_at``) is the database's
clock (``Now()``), never the app server's: hosts whose clocks disagree agree on the database's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Concat, Now

from . import error_codes
from .conf import postlogin_settings
from .models import Job
from .scrub import get_logger

logger = get_logger(__name__)
State = Job.State


class WorkerLost(Exception):
    """A job's last attempt ended without an outcome (the worker died or outlived its lease)
    and no attempt is left: the claim failed it. Sent with ``job_failed``."""


def due_in(seconds: float) -> Any:
    """``seconds`` from now by the database's clock, as an expression."""
    return Now() + Value(timedelta(seconds=seconds), output_field=models.DurationField())


def _reload_on_access(job: Job, *names: str) -> None:
    """The database set these fields (``Now()``): read them again only if someone asks."""
    for name in names:
        job.__dict__.pop(name, None)  # a missing field is a deferred one, loaded on access


def claim(job_id: int, *, held: int | None = None) -> Job | None:
    """Take the job for running, or None if it is not claimable (done, failed, or running
    under a live lease).

    ``held`` is the fence (``claims``) of the caller's own earlier claim, still ``running``
    because the database failed before its outcome was recorded: that claim is taken back at
    once instead of waiting for its lease.

    A job whose attempts are used up is failed instead, by the same UPDATE, and returned
    ``failed``: its last attempt ended without an outcome, since a handler's error on the last
    attempt already fails it. Without this a job that kills its worker (out of memory, a hard
    time limit, a crash) would be relayed and run again for ever.
    """
    budget = postlogin_settings.MAX_RETRIES + 1
    used_up = Q(attempts__gte=budget)
    claimable = Q(state__in=[State.PENDING, State.QUEUED]) | Q(
        state=State.RUNNING, lease_until__lt=Now()
    )
    if held is not None:
        claimable |= Q(state=State.RUNNING, claims=held)
    lost = Concat(
        Value("WorkerLost: "),
        Cast("attempts", models.CharField()),
        Value(
            f" attempts of {budget} used; the last ended without an outcome"
            " (its worker died or ran past JOB_LEASE)"
        ),
        output_field=models.TextField(),
    )
    when_used_up = {"output_field": models.DateTimeField()}
    # One transaction: the row read back is this claim's (its fence), not a later one's.
    with transaction.atomic(savepoint=False):
        claimed = Job.objects.filter(claimable, pk=job_id).update(
            state=Case(When(used_up, then=Value(State.FAILED)), default=Value(State.RUNNING)),
            attempts=Case(When(used_up, then=F("attempts")), default=F("attempts") + 1),
            claims=F("claims") + 1,
            lease_until=Case(
                When(used_up, then=Value(None)),
                default=due_in(postlogin_settings.JOB_LEASE),
                **when_used_up,
            ),
            finished_at=Case(When(used_up, then=Now()), default=F("finished_at"), **when_used_up),
            last_error=Case(When(used_up, then=lost), default=F("last_error")),
            error_code=Case(
                When(used_up, then=Value(error_codes.INTERNAL_ERROR)), default=F("error_code")
            ),
            updated_at=Now(),
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
    log_transition(job, "failed" if job.state == State.FAILED else "claimed")
    return job


def _fenced(job: Job) -> QuerySet[Job]:
    """The job's row, only while this claim still owns it.

    ``attempts`` too, which only a claim changes while a job runs: a worker of the previous
    version, during a rolling upgrade, claims without counting ``claims``.
    """
    return Job.objects.filter(
        pk=job.pk, state=State.RUNNING, claims=job.claims, attempts=job.attempts
    )


def mark_done(job: Job) -> bool:
    """Record success. Returns False if the claim was lost (or the job was already done)."""
    if not _fenced(job).update(
        state=State.DONE,
        lease_until=None,
        finished_at=Now(),
        updated_at=Now(),
        last_error="",
        error_code="",
    ):
        return False
    job.state, job.lease_until, job.last_error, job.error_code = State.DONE, None, "", ""
    _reload_on_access(job, "finished_at", "updated_at")
    return True


def mark_failed(job: Job, error: str, code: str = "") -> bool:
    """``error`` is the scrubbed text, ``code`` what the user is told (postlogin.error_codes)."""
    if not _fenced(job).update(
        state=State.FAILED,
        lease_until=None,
        finished_at=Now(),
        updated_at=Now(),
        last_error=error,
        error_code=code,
    ):
        return False
    job.state, job.lease_until, job.last_error, job.error_code = State.FAILED, None, error, code
    _reload_on_access(job, "finished_at", "updated_at")
    return True


def mark_retry(
    job: Job, error: str, countdown: float, *, refund_attempt: bool = False, code: str = ""
) -> bool:
    """Back to ``queued``; the relay re-publishes it if no message claims it in time.

    ``refund_attempt`` gives the claim's attempt back: the job was not tried (rate limited).
    ``error`` and ``code`` as for :func:`mark_failed`.
    """
    due = due_in(countdown + postlogin_settings.RELAY_QUEUED_AFTER)
    attempts = F("attempts") - 1 if refund_attempt else F("attempts")
    if not _fenced(job).update(
        state=State.QUEUED,
        lease_until=due,
        updated_at=Now(),
        last_error=error,
        error_code=code,
        attempts=attempts,
    ):
        return False
    job.state, job.last_error, job.error_code = State.QUEUED, error, code
    _reload_on_access(job, "lease_until", "updated_at")
    if refund_attempt:
        job.attempts -= 1
    return True


def mark_queued(
    job_ids: Iterable[int], *, relayed: bool = False, lost_before: datetime | None = None
) -> int:
    """After publishing: the jobs now wait for their message to be claimed (``queued``).

    Rows published from a login, a re-sync or a replay were ``pending``: only those change (one
    the relay took meanwhile is already queued and is left alone), with a simple WHERE on the
    state. The relay's rows (``relayed``) were chosen by :func:`due_for_relay` with
    ``lost_before``, which the WHERE repeats; they are logged as ``relayed``.
    """
    expected = Q(state=State.PENDING)
    if relayed:
        expected |= due_for_relay(lost_before)
    return _change_and_log(
        Job.objects.filter(expected, pk__in=list(job_ids)),
        "relayed" if relayed else "queued",
        state=State.QUEUED,
        lease_until=due_in(postlogin_settings.RELAY_QUEUED_AFTER),
        updated_at=Now(),
    )


def mark_unpublished(job_ids: Iterable[int], batch: uuid.UUID | None) -> int:
    """A login inserted these rows ``queued`` (in ``batch``) but their message did not go out:
    back to ``pending``, for the relay. Rows no longer so (claimed since) are left alone."""
    ids = list(job_ids)
    if not ids or batch is None:
        return 0
    return Job.objects.filter(pk__in=ids, state=State.QUEUED, batch=batch, claims=0).update(
        state=State.PENDING, lease_until=None, updated_at=Now()
    )


def due_for_relay(lost_before: datetime | None = None) -> Q:
    """Jobs whose message never went out, was lost, or whose worker died.

    ``lost_before``: when the newest relay marker that a worker ran was published (see
    :mod:`postlogin.markers`; the database's clock). Every message published before then was
    delivered, so a job still ``queued`` for a message due before then lost it: ``lease_until``
    is the message's due time (after a retry's countdown) plus ``RELAY_QUEUED_AFTER``.
    """
    stale_pending = Q(
        state=State.PENDING,
        updated_at__lt=due_in(-postlogin_settings.RELAY_PENDING_AFTER),
    )
    expired = Q(state__in=[State.QUEUED, State.RUNNING], lease_until__lt=Now())
    if lost_before is None:
        return stale_pending | expired
    lost = Q(
        state=State.QUEUED,
        updated_at__lt=lost_before,
        lease_until__lt=lost_before + timedelta(seconds=postlogin_settings.RELAY_QUEUED_AFTER),
    )
    return stale_pending | expired | lost


def replay(jobs: QuerySet[Job]) -> list[int]:
    """Failed jobs back to ``pending`` with a fresh retry budget; returns their IDs.

    ``claims`` is not reset: a worker still holding a claim from before can record nothing.
    Publishing them is the caller's (:func:`postlogin.enqueue.replay`).
    """
    with transaction.atomic():
        ids = list(jobs.filter(state=State.FAILED).values_list("pk", flat=True))
        _change_and_log(
            Job.objects.filter(pk__in=ids, state=State.FAILED),
            "replayed",
            state=State.PENDING,
            attempts=0,
            last_error="",
            error_code="",
            lease_until=None,
            finished_at=None,
            updated_at=Now(),
        )
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


def _change_and_log(rows: QuerySet[Job], event: str, **changes: Any) -> int:
    """UPDATE ``rows`` with ``changes`` and log ``event`` for each row changed.

    To log, the rows are locked first (in primary key order) and then changed, in one
    transaction: the rows logged are exactly the rows changed, with no timestamp to match.
    """
    if not logger.isEnabledFor(logging.INFO):
        return rows.update(**changes)
    with transaction.atomic(savepoint=False):
        locked = list(
            rows.select_for_update().only("user", "kind", "state", "attempts").order_by("pk")
        )
        if not locked:
            return 0
        changed = rows.filter(pk__in=[job.pk for job in locked]).update(**changes)
    plain = {name: value for name, value in changes.items() if name in ("state", "attempts")}
    for job in locked:
        for name, value in plain.items():
            setattr(job, name, value)
        log_transition(job, event)
    return changed
