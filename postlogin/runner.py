"""Run one job: claim it, call its handler, record the outcome."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from celery.utils.time import get_exponential_backoff_interval

from . import jobs, ledger
from .conf import postlogin_settings
from .models import Job
from .signals import job_failed, job_succeeded

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """``done``, ``failed``, ``retry`` (after ``countdown`` seconds), ``skipped`` or ``lost``."""

    state: str
    countdown: float = 0.0


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


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


def run(job_id: int) -> Outcome:
    job = ledger.claim(job_id)
    if job is None:
        # Done, failed, or running under a live lease: a duplicate or late delivery.
        logger.debug("postlogin: job %s not claimable; message dropped", job_id)
        return Outcome("skipped")
    if job.state == Job.State.FAILED:
        # Its attempts were used up by runs that never recorded an outcome: not run again.
        job_failed.send(sender=Job, job=job, error=ledger.WorkerLost(job.last_error))
        return Outcome("failed")
    started = time.monotonic()
    try:
        kind = jobs.get_kind(job.kind)
        if kind is None:
            raise jobs.PermanentJobError(f"no job kind {job.kind!r} is registered")
        kind.handler(job)
    except Exception as exc:
        return _record_error(job, exc, time.monotonic() - started)
    if job.state != Job.State.DONE and not ledger.mark_done(job):
        logger.warning("postlogin: job %s finished after its lease was taken over", job.pk)
        return Outcome("lost")
    ledger.log_transition(job, "done", duration=time.monotonic() - started)
    job_succeeded.send(sender=Job, job=job)
    return Outcome("done")


def _record_error(job: Job, exc: Exception, duration: float) -> Outcome:
    error = describe(exc)
    permanent = isinstance(exc, jobs.PermanentJobError)
    counts = not isinstance(exc, jobs.RetryLater) or exc.counts_as_attempt
    if permanent or (counts and job.attempts > postlogin_settings.MAX_RETRIES):
        if not ledger.mark_failed(job, error):
            return Outcome("lost")
        ledger.log_transition(job, "failed", duration=duration)
        job_failed.send(sender=Job, job=job, error=exc)
        return Outcome("failed")
    countdown = retry_countdown(job.attempts)
    if isinstance(exc, jobs.RetryLater):
        # The server (Retry-After) or a rate limit says when: not sooner than that, and, for
        # a counted attempt, not sooner than the backoff either.
        wanted = exc.countdown if not counts else max(exc.countdown, countdown)
        countdown = min(wanted, float(postlogin_settings.RETRY_BACKOFF_MAX))
    if not ledger.mark_retry(job, error, countdown, refund_attempt=not counts):
        return Outcome("lost")
    ledger.log_transition(job, "retry", duration=duration, countdown_s=round(countdown, 1))
    return Outcome("retry", countdown)
