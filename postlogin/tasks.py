"""Celery tasks. They stay thin: the work lives in :mod:`postlogin.runner` and
:mod:`postlogin.publish`.

This module imports Celery, which is why Celery is a hard dependency of the package.
"""

from __future__ import annotations

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import close_old_connections

from . import markers, prune, publish, runner
from .conf import postlogin_settings
from .scrub import get_logger

logger = get_logger(__name__)


@shared_task(
    bind=True,
    name=publish.RUN_JOB_TASK,
    ignore_result=True,
    # Acknowledge after the job ran, and re-deliver when the worker process died under it.
    acks_late=True,
    reject_on_worker_lost=True,
    # Attempts are counted and bounded by the ledger (POSTLOGIN["MAX_RETRIES"]), not here.
    max_retries=None,
)
def run_job(self: Task, job_id: int, held: int | None = None) -> str:
    """Claim and run one job; on a transient error, retry after a jittered backoff.

    When the database fails (restart, failover), the task tries again shortly, taking back its
    own claim (``held``), rather than leaving the job ``running`` until its lease expires.
    """
    try:
        outcome = runner.run(job_id, held=held)
    except runner.LedgerUnavailable as exc:
        raise _retry_on_database_error(self, job_id, exc.claim, exc) from exc
    except runner.DATABASE_ERRORS as exc:
        raise _retry_on_database_error(self, job_id, held, exc) from exc
    if outcome.state == "retry":
        raise self.retry(countdown=outcome.countdown)
    return outcome.state


def _retry_on_database_error(
    task: Task, job_id: int, held: int | None, exc: Exception
) -> BaseException:
    # The failed connection would fail every later query of this worker thread: drop it, and
    # the next task opens a new one.
    close_old_connections()
    countdown = max(
        0.5,
        get_exponential_backoff_interval(
            factor=1,
            retries=task.request.retries,
            maximum=postlogin_settings.DATABASE_RETRY_MAX,
            full_jitter=True,
        ),
    )
    logger.warning(
        "postlogin job %s: the database failed (%s); trying again in %.1f s",
        job_id,
        runner.describe(exc.__cause__ or exc),
        countdown,
    )
    retry: BaseException = task.retry(
        args=(job_id,), kwargs={"held": held}, countdown=countdown, exc=exc
    )
    return retry


@shared_task(name="postlogin.relay_pending", ignore_result=True)
def relay_pending() -> int:
    """Publish pending jobs, lost messages and expired leases (run it from beat)."""
    try:
        return len(publish.relay())
    except runner.DATABASE_ERRORS as exc:
        # Beat runs it again in a few seconds: one line per run, not a traceback, and a fresh
        # connection next time.
        close_old_connections()
        logger.warning("postlogin: relay skipped: the database failed (%s)", runner.describe(exc))
        return 0


@shared_task(name=markers.MARKER_TASK, ignore_result=True)
def relay_marker(marker_id: int) -> bool:
    """Record that a worker reached the relay's marker: every message queued before it was
    delivered (see :mod:`postlogin.markers`)."""
    return markers.record_seen(marker_id)


@shared_task(name="postlogin.clear_stale_partials", ignore_result=True)
def clear_stale_partials() -> int:
    """Delete unfinished social-auth partial pipelines (they hold provider tokens)."""
    from .social import partials

    return partials.clear_stale()


@shared_task(name="postlogin.resync_stale", ignore_result=True)
def resync_stale() -> int:
    """Record profile_sync jobs for accounts whose last sync is older than RESYNC_AFTER."""
    from .kinds import profile_sync

    return len(profile_sync.schedule_stale())


@shared_task(name="postlogin.prune", ignore_result=True)
def prune_jobs() -> int:
    """Delete old done and failed jobs, in short batches (PRUNE_* settings)."""
    return prune.prune().total
