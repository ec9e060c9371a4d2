"""Celery tasks. They stay thin: the work lives in :mod:`postlogin.runner` and
:mod:`postlogin.dispatch`.

This module imports Celery, which is why Celery is a hard dependency of the package.
"""

from __future__ import annotations

from celery import Task, shared_task

from . import dispatch, markers, partials, runner


@shared_task(
    bind=True,
    name="postlogin.run_job",
    ignore_result=True,
    # Acknowledge after the job ran, and re-deliver when the worker process died under it.
    acks_late=True,
    reject_on_worker_lost=True,
    # Attempts are counted and bounded by the ledger (POSTLOGIN["MAX_RETRIES"]), not here.
    max_retries=None,
)
def run_job(self: Task, job_id: int) -> str:
    """Claim and run one job; on a transient error, retry after a jittered backoff."""
    outcome = runner.run(job_id)
    if outcome.state == "retry":
        raise self.retry(countdown=outcome.countdown)
    return outcome.state


@shared_task(name="postlogin.relay_pending", ignore_result=True)
def relay_pending() -> int:
    """Publish pending jobs, lost messages and expired leases (run it from beat)."""
    return len(dispatch.relay())


@shared_task(name=markers.MARKER_TASK, ignore_result=True)
def relay_marker(marker_id: int) -> bool:
    """Record that a worker reached the relay's marker: every message queued before it was
    delivered (see :mod:`postlogin.markers`)."""
    return markers.record_seen(marker_id)


@shared_task(name="postlogin.clear_stale_partials", ignore_result=True)
def clear_stale_partials() -> int:
    """Delete unfinished social-auth partial pipelines (they hold provider tokens)."""
    return partials.clear_stale()


@shared_task(name="postlogin.resync_stale", ignore_result=True)
def resync_stale() -> int:
    """Record profile_sync jobs for accounts whose last sync is older than RESYNC_AFTER."""
    from . import sync

    return len(sync.schedule_stale())
