"""The one way work is recorded: rows now, their messages after the commit.

:func:`enqueue` inserts Job rows in the caller's transaction (one bulk INSERT; a job that
already exists for the same user, kind and key is left alone) and publishes, once the
transaction commits, every row of that work that waits for a message: those it inserted and
those of the same work still ``pending``. A login (:mod:`postlogin.dispatch`), a re-sync, the
avatar a re-sync finds, and a replay all go through it; a worker never looks for a row that is
not there yet, and a broker that is down or hangs never fails the caller
(:mod:`postlogin.publish`).

While the circuit breaker is closed, the rows are inserted already ``queued`` (due by the
database's clock), in a batch of their own: their message goes out right after the commit,
which saves an UPDATE; if it does not go out after all, they go back to ``pending`` for the
relay. With the circuit open they are inserted ``pending``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet

from . import ledger
from .breaker import publish_breaker
from .conf import postlogin_settings
from .models import Job
from .publish import Recorded, publish_recorded


def record(rows: Sequence[Job], *, pending_ids: Iterable[int] = ()) -> Recorded:
    """Insert ``rows`` (conflicts ignored); return the rows of that work waiting for a
    message, with ``pending_ids`` (rows known to be ``pending``) among them."""
    given = tuple(dict.fromkeys(pending_ids))
    if not rows:
        return Recorded(pending_ids=given)
    batch = None
    if not publish_breaker.is_open:
        batch = uuid.uuid4()
        due = ledger.due_in(postlogin_settings.RELAY_QUEUED_AFTER)
        for job in rows:
            job.state, job.lease_until, job.batch = Job.State.QUEUED, due, batch
    Job.objects.bulk_create(rows, ignore_conflicts=True)
    # The rows of this work, inserted now or already waiting: one simple query on the unique
    # index's columns, the exact (user, kind, key) triples picked here (cheaper than an OR).
    same_work = {(job.user_id, job.kind, job.key) for job in rows}
    ours = Q(state=Job.State.QUEUED, batch=batch) if batch else Q(pk__in=[])
    found = Job.objects.filter(
        Q(state=Job.State.PENDING) | ours,
        user_id__in={user_id for user_id, _, _ in same_work},
        kind__in={kind for _, kind, _ in same_work},
        key__in={key for _, _, key in same_work},
    ).values_list("pk", "user_id", "kind", "key", "state")
    queued: list[Job] = []
    pending: dict[int, None] = dict.fromkeys(given)
    for pk, user_id, kind, key, state in found:
        if (user_id, kind, key) not in same_work:
            continue
        if state == Job.State.QUEUED:
            queued.append(Job(pk=pk, user_id=user_id, kind=kind, state=state, attempts=0))
        else:
            pending[pk] = None
    return Recorded(tuple(queued), tuple(pending), batch if queued else None)


def enqueue(rows: Sequence[Job], *, pending_ids: Iterable[int] = ()) -> list[int]:
    """Record ``rows`` now and publish them, with ``pending_ids``, once the transaction
    commits (at once outside a transaction). Returns the IDs to be published."""
    recorded = record(rows, pending_ids=pending_ids)
    if recorded.ids:
        transaction.on_commit(partial(publish_recorded, recorded), robust=True)
    return recorded.ids


def replay(jobs: QuerySet[Job]) -> list[int]:
    """Send the failed ones of ``jobs`` round again with a fresh retry budget, published after
    commit; returns their IDs."""
    with transaction.atomic():
        ids = ledger.replay(jobs)
        enqueue((), pending_ids=ids)
    return ids
