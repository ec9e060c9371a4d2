"""Delete old finished jobs from the ledger, in short batches.

``done`` jobs older than ``PRUNE_DONE_AFTER`` seconds and ``failed`` jobs older than
``PRUNE_FAILED_AFTER`` seconds are deleted, ``PRUNE_BATCH_SIZE`` rows a transaction, at most
``PRUNE_MAX_BATCHES`` batches a run (``manage.py postlogin prune``, or the ``postlogin.prune``
task from beat). A job's age is counted from its last state change (``updated_at``: when it
finished), against the database's clock, so hosts whose clocks disagree prune the same rows.

Rows whose key is :data:`postlogin.jobs.ONCE` (``welcome_email``, and any kind planned with
:func:`postlogin.jobs.once`) are never deleted: the unique ``(user, kind, key)`` row is what
makes that work happen once per user. Any other key may be planned again after its row is
gone; the built-in kinds are safe with that (an avatar already stored is not fetched again,
webhook and re-sync keys are never planned twice).

Each batch locks the rows it deletes and nothing else; on PostgreSQL it skips rows another
transaction holds (``SKIP LOCKED``), so a prune never waits for a login or a claim. A login
that records the same work as a row being deleted waits at most for that one short batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Now

from .conf import postlogin_settings
from .jobs import ONCE
from .models import Job
from .scrub import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class Pruned:
    """What one run deleted, by state, and in how many batches."""

    done: int = 0
    failed: int = 0
    batches: int = 0

    @property
    def total(self) -> int:
        return self.done + self.failed


def prunable(state: str, older_than: float) -> QuerySet[Job]:
    """Jobs in ``state`` whose last change is more than ``older_than`` seconds ago (database
    clock), except the rows that keep once-per-user work from running again."""
    cutoff = Now() - timedelta(seconds=older_than)
    return Job.objects.filter(state=state, updated_at__lt=cutoff).exclude(key=ONCE)


def delete_batch(
    state: str, older_than: float, limit: int, after: tuple[datetime, int] | None = None
) -> tuple[int, tuple[datetime, int] | None]:
    """Delete up to ``limit`` prunable rows, oldest first, in one short transaction.

    ``after`` is the ``(updated_at, pk)`` the previous batch ended at: rows before it were
    kept (``once`` rows, rows locked by someone else) and are not looked at again. Returns the
    number deleted and where this batch ended (None when it found nothing).
    """
    rows = prunable(state, older_than).order_by("updated_at", "pk")
    if after is not None:
        rows = rows.filter(updated_at__gte=after[0]).exclude(updated_at=after[0], pk__lte=after[1])
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    with transaction.atomic():
        found = list(rows.values_list("updated_at", "pk")[:limit])
        if not found:
            return 0, None
        # A fast delete (one DELETE ... WHERE id IN): nothing references a Job row.
        deleted, _by_model = Job.objects.filter(pk__in=[pk for _at, pk in found]).delete()
    return deleted, found[-1]


def prune(*, batch_size: int | None = None, max_batches: int | None = None) -> Pruned:
    """Delete old ``done`` and ``failed`` jobs; bounded to ``max_batches`` batches a run."""
    limit = batch_size or postlogin_settings.PRUNE_BATCH_SIZE
    budget = max_batches or postlogin_settings.PRUNE_MAX_BATCHES
    deleted = {Job.State.DONE: 0, Job.State.FAILED: 0}
    retention = {
        Job.State.DONE: postlogin_settings.PRUNE_DONE_AFTER,
        Job.State.FAILED: postlogin_settings.PRUNE_FAILED_AFTER,
    }
    batches = 0
    for state, older_than in retention.items():
        after = None
        while batches < budget:
            count, after = delete_batch(state, older_than, limit, after)
            batches += 1
            deleted[state] += count
            if after is None or count < limit:
                break
    pruned = Pruned(deleted[Job.State.DONE], deleted[Job.State.FAILED], batches)
    if pruned.total:
        logger.info(
            "postlogin: pruned %s done and %s failed job(s) in %s batch(es)",
            pruned.done,
            pruned.failed,
            pruned.batches,
        )
    return pruned
