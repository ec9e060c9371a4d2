"""Relay markers: tell a lost message from a long queue, on any kombu transport.

A broker that restarts without persistence, a ``FLUSHALL`` or a purged queue loses every
queued ``run_job`` message; the ledger still has the jobs ``queued``. Waiting for their
deadline (``RELAY_QUEUED_AFTER``, 15 minutes) would also cover a long but healthy queue, which
must not be published again wholesale. So each relay run that finds jobs waiting publishes a
tiny ``postlogin.relay_marker`` message behind them, routed like ``run_job``, and records when
(:class:`~postlogin.models.RelayMarker`, database clock). A worker that runs the marker records
that it saw it. Queues are first in, first out: once a marker published at *P* was run, every
message published before *P* was delivered to a worker. A job still ``queued`` whose message
was due before *P* (not a retry whose countdown ends after *P*) lost its message; the next relay
run publishes it at once (:func:`postlogin.ledger.due_for_relay`).

A long queue keeps the markers behind it, so nothing is published again; only messages that a
worker had prefetched but not started when another worker ran the marker can be (at most the
workers' prefetch; the claim drops the duplicate). A marker lost with the others is replaced
by the next run's. Markers older than ``RELAY_QUEUED_AFTER`` are deleted: by then the deadline
covers every job they could have told about.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Now

from .conf import postlogin_settings
from .ledger import due_in
from .models import Job, RelayMarker

MARKER_TASK = "postlogin.relay_marker"


def last_seen() -> RelayMarker | None:
    """The newest marker (by its publishing time) that a worker ran; None if none was run."""
    return (
        RelayMarker.objects.filter(seen_at__isnull=False).order_by("-published_at", "-pk").first()
    )


def record_seen(marker_id: int) -> bool:
    """A worker ran the marker (the ``relay_marker`` task). False if it was seen or pruned."""
    return bool(
        RelayMarker.objects.filter(pk=marker_id, seen_at__isnull=True).update(seen_at=Now())
    )


def needed() -> bool:
    """Whether a marker could tell anything: some job waits for a message already due
    (``lease_until`` is the message's due time plus ``RELAY_QUEUED_AFTER``)."""
    due_by = due_in(postlogin_settings.RELAY_QUEUED_AFTER)
    return Job.objects.filter(state=Job.State.QUEUED, lease_until__lte=due_by).exists()


def create() -> RelayMarker:
    """Record a marker about to be published (:func:`postlogin.publish.publish_marker`), at the
    database's time."""
    return RelayMarker.objects.create(published_at=Now())


def prune(newest_seen: RelayMarker | None) -> int:
    """Delete the markers that can tell nothing any more: those older than
    ``RELAY_QUEUED_AFTER``, and the ones run other than ``newest_seen``."""
    old = Q(published_at__lt=Now() - timedelta(seconds=postlogin_settings.RELAY_QUEUED_AFTER))
    if newest_seen is not None:
        # By primary key, not by time: SQLite stores the database clock's times with fewer
        # digits than Python's, so they compare wrongly with a time read back from it.
        old |= Q(seen_at__isnull=False) & ~Q(pk=newest_seen.pk)
    deleted, _ = RelayMarker.objects.filter(old).delete()
    return deleted
