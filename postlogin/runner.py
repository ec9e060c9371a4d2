"""Run one job: claim it, call its handler, record the outcome.

The runner enforces the handler contract of :mod:`postlogin.jobs`: it fails a job at once for an
error that retrying cannot fix (:func:`postlogin.jobs.is_permanent`), takes a call from the
kind's rate limit before the handler runs (over the limit, the job waits without using an
attempt), honours every wait an error asks for (``RetryLater.countdown``,
``TransientFetchError.retry_after``) on top of the backoff, and calls a handler's completion in
the transaction that marks the job done. It alone changes the job's row while it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError, transaction

from . import error_codes, jobs, ledger, ratelimit, scrub
from .conf import postlogin_settings
from .models import Job
from .net import TransientFetchError
from .signals import job_failed, job_succeeded

logger = scrub.get_logger(__name__)

#: The database itself failed (down, restarting, connection dropped), as opposed to one query.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class LedgerUnavailable(Exception):
    """The database failed under a claimed job before its outcome was recorded.

    ``claim`` names the claim (its fence, ``Job.claims``): ``run(job_id, held=claim)`` takes it
    back once the database answers, so the job need not wait for its lease (``JOB_LEASE``).
    """

    def __init__(self, job_id: int, claim: int) -> None:
        super().__init__(f"job {job_id}: the database failed before claim {claim} was recorded")
        self.job_id = job_id
        self.claim = claim


@dataclass(frozen=True)
class Outcome:
    """``done``, ``failed``, ``retry`` (after ``countdown`` seconds), ``skipped`` or ``lost``."""

    state: str
    countdown: float = 0.0


def describe(exc: BaseException, job: Job | None = None) -> str:
    """The error text kept in ``last_error`` and logged: scrubbed of credentials, query strings
    and, given the ``job``, every token stored for its user."""
    return scrub.describe(exc, scrub.secrets_or_none(job.user_id) if job else ())


def retry_countdown(attempt: int) -> float:
    """Celery's exponential backoff with full jitter, for the retry after ``attempt``."""
    return float(
        get_exponential_backoff_interval(
            factor=postlogin_settings.RETRY_BACKOFF,
            retries=attempt - 1,
            maximum=postlogin_settings.RETRY_BACKOFF_MAX,
            full_jitter=True,
        )
    )


def run(job_id: int, *, held: int | None = None) -> Outcome:
    """Claim and run the job. ``held``: the fence of this task's own earlier claim, which a
    database failure interrupted (see :class:`LedgerUnavailable`).

    Raises :class:`LedgerUnavailable` when the database fails while the job is claimed, and
    one of :data:`DATABASE_ERRORS` when it fails before that.
    """
    job = ledger.claim(job_id, held=held)
    if job is None:
        # Done, failed, or running under a live lease: a duplicate or late delivery.
        logger.debug("postlogin: job %s not claimable; message dropped", job_id)
        return Outcome("skipped")
    if job.state == Job.State.FAILED:
        # Its attempts were used up by runs that never recorded an outcome: not run again.
        job_failed.send(
            sender=Job,
            job=job,
            error=ledger.WorkerLost(job.last_error),
            error_code=job.error_code,
            error_text=job.last_error,
        )
        return Outcome("failed")
    try:
        return _run_claimed(job)
    except DATABASE_ERRORS as exc:
        raise LedgerUnavailable(job.pk, job.claims) from exc


def _run_claimed(job: Job) -> Outcome:
    started = time.monotonic()
    try:
        kind = jobs.get_kind(job.kind)
        if kind is None:
            raise jobs.PermanentJobError(f"no job kind {job.kind!r} is registered")
        _take_rate_limit(kind, job)
        completion = kind.handler(job)
    except Exception as exc:
        return _record_error(job, exc, time.monotonic() - started)
    try:
        done = _mark_done(job, completion)
    except DATABASE_ERRORS:
        raise
    except Exception as exc:
        # The completion failed: rolled back, with the job's own completion.
        return _record_error(job, exc, time.monotonic() - started)
    if not done:
        logger.warning("postlogin: job %s finished after its lease was taken over", job.pk)
        return Outcome("lost")
    ledger.log_transition(job, "done", duration=time.monotonic() - started)
    job_succeeded.send(sender=Job, job=job)
    return Outcome("done")


def _take_rate_limit(kind: jobs.JobKind, job: Job) -> None:
    """One call from the kind's rate limit, or RetryLater (not an attempt) until one frees."""
    key = kind.rate_limit_for(job)
    wait = ratelimit.acquire(key) if key else 0.0
    if wait:
        raise jobs.RetryLater(wait, f"rate limited: {key}", counts_as_attempt=False)


def _mark_done(job: Job, completion: jobs.Completion | None) -> bool:
    """Record success, and the handler's ``completion`` in the same transaction. False if the
    claim was lost: the completion is then not run (nothing of it is committed)."""
    if completion is None:
        return ledger.mark_done(job)
    with transaction.atomic():
        if not ledger.mark_done(job):
            return False
        completion()
    return True


def _requested_wait(exc: Exception) -> float | None:
    """The wait the error asks for: a rate limit's or a server's ``Retry-After``."""
    if isinstance(exc, jobs.RetryLater):
        return exc.countdown
    if isinstance(exc, TransientFetchError):
        return exc.retry_after
    return None


def _record_error(job: Job, exc: Exception, duration: float) -> Outcome:
    error, code = describe(exc, job), error_codes.code_for(exc)
    permanent = jobs.is_permanent(exc)
    counts = not isinstance(exc, jobs.RetryLater) or exc.counts_as_attempt
    if permanent or (counts and job.attempts > postlogin_settings.MAX_RETRIES):
        if not ledger.mark_failed(job, error, code):
            return Outcome("lost")
        ledger.log_transition(job, "failed", duration=duration, error_code=code, error=error)
        job_failed.send(sender=Job, job=job, error=exc, error_code=code, error_text=error)
        return Outcome("failed")
    countdown = retry_countdown(job.attempts)
    requested = _requested_wait(exc)
    if requested is not None:
        # The server (Retry-After) or a rate limit says when: not sooner than that, and, for
        # a counted attempt, not sooner than the backoff either.
        wanted = requested if not counts else max(requested, countdown)
        countdown = min(wanted, float(postlogin_settings.RETRY_BACKOFF_MAX))
    if not ledger.mark_retry(job, error, countdown, refund_attempt=not counts, code=code):
        return Outcome("lost")
    ledger.log_transition(
        job,
        "retry",
        duration=duration,
        countdown_s=round(countdown, 1),
        error_code=code,
        error=error,
    )
    return Outcome("retry", countdown)
