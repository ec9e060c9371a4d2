"""Publishing: the ``run_job`` messages of recorded jobs, through the circuit breaker, and the
relay that publishes again what never went out, was lost, or whose worker died.

Only job IDs cross the broker. Publishing never fails a login: a broker that refuses or hangs
is logged, the circuit breaker (:mod:`postlogin.breaker`) opens, and the jobs wait as
``pending`` for the relay.

A login's messages go out together: one producer, and on transports that can (Redis, with
kombu 5.7+) one round trip. While the circuit is open no login tries the broker; when the
cool-down is over, a background thread probes it with that login's jobs, so no login waits
on a broker that may still be hung.

Work is recorded by :mod:`postlogin.enqueue`, which hands its rows to :func:`publish_recorded`
once the transaction commits.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction

from . import ledger, markers
from .breaker import PUBLISH, SKIP, publish_breaker
from .conf import postlogin_settings
from .models import Job
from .scrub import get_logger

logger = get_logger(__name__)

#: The Celery task that runs a job (:func:`postlogin.tasks.run_job`): its one definition.
RUN_JOB_TASK = "postlogin.run_job"


@dataclass(frozen=True)
class Recorded:
    """Rows waiting for their message: those inserted now (in ``batch``), already marked
    ``queued`` because their message goes out right after the commit, and rows of the same
    work that were waiting as ``pending``.

    Inserting the rows queued saves the login an UPDATE after publishing; if the message does
    not go out after all (broker down, circuit open), :func:`publish_recorded` puts them back
    to ``pending`` for the relay.
    """

    queued: tuple[Job, ...] = ()
    pending_ids: tuple[int, ...] = ()
    batch: uuid.UUID | None = None

    @property
    def ids(self) -> list[int]:
        return sorted([job.pk for job in self.queued] + list(self.pending_ids))


def send_run_job(job_id: int, producer: Any = None) -> None:
    """Publish one ``run_job`` message, bounded by ``PUBLISH_RETRY_POLICY``."""
    current_app.send_task(
        RUN_JOB_TASK,
        args=(job_id,),
        queue=postlogin_settings.TASK_QUEUE,
        retry=True,
        retry_policy=dict(postlogin_settings.PUBLISH_RETRY_POLICY),
        ignore_result=True,
        producer=producer,
    )


def send_marker(marker_id: int) -> None:
    """Publish a relay marker (see :mod:`postlogin.markers`) routed exactly like ``run_job``
    (``route_name``: the same queue, whatever ``task_routes`` says), so that it queues behind
    the jobs' messages."""
    current_app.send_task(
        markers.MARKER_TASK,
        args=(marker_id,),
        queue=postlogin_settings.TASK_QUEUE,
        route_name=RUN_JOB_TASK,
        retry=True,
        retry_policy=dict(postlogin_settings.PUBLISH_RETRY_POLICY),
        ignore_result=True,
    )


def _batch(producer: Any) -> AbstractContextManager[Any]:
    """kombu 5.7's publish batch (one round trip on Redis); elsewhere, publish one by one."""
    batch = getattr(producer, "batch", None)
    return batch() if callable(batch) else nullcontext()


def send_run_jobs(job_ids: list[int]) -> None:
    """Publish the ``run_job`` messages of ``job_ids`` together; raises if any was not sent."""
    with current_app.producer_or_acquire() as producer, _batch(producer):
        for job_id in job_ids:
            send_run_job(job_id, producer=producer)


def publish(job_ids: list[int]) -> list[int]:
    """Publish pending jobs now, through the circuit breaker; what is not sent stays pending.
    Returns the IDs sent. See :func:`publish_recorded`."""
    return publish_recorded(Recorded(pending_ids=tuple(job_ids)))


def publish_recorded(recorded: Recorded) -> list[int]:
    """Publish recorded jobs through the circuit breaker; what is not sent waits as pending.

    Returns the IDs sent. With the circuit open nothing is tried. When its cool-down is over,
    the broker is probed in a background thread (see :func:`probe_in_background`) and this
    call returns at once: the relay or the probe sends the jobs.
    """
    job_ids = recorded.ids
    if not job_ids:
        return []
    decision = publish_breaker.acquire()
    if decision == PUBLISH:
        return _publish_now(recorded)
    ledger.mark_unpublished([job.pk for job in recorded.queued], recorded.batch)
    if decision == SKIP:
        _left_pending(len(job_ids))
    else:
        probe_in_background(job_ids)
    return []


def _left_pending(count: int) -> None:
    logger.warning("postlogin: %s job(s) left pending for the relay: broker unavailable", count)


def _publish_now(recorded: Recorded) -> list[int]:
    job_ids = recorded.ids
    try:
        send_run_jobs(job_ids)
    except Exception:
        # kombu raises OperationalError when the broker refuses, socket timeouts when it
        # hangs, RuntimeError when a result backend is down: none may fail a login.
        publish_breaker.record_failure()
        ledger.mark_unpublished([job.pk for job in recorded.queued], recorded.batch)
        listed = ", ".join(str(job_id) for job_id in job_ids)
        logger.exception("postlogin: could not publish job(s) %s; the relay will", listed)
        _left_pending(len(job_ids))
        return []
    publish_breaker.record_success()
    for job in recorded.queued:
        ledger.log_transition(job, "queued")
    if recorded.pending_ids:
        # Rows that were pending (one the relay took meanwhile is already queued and is left
        # alone) now wait for their message.
        ledger.mark_queued(recorded.pending_ids)
    return job_ids


def probe_in_background(job_ids: list[int]) -> threading.Thread:
    """Try the broker with ``job_ids`` from a daemon thread; its result closes or re-opens
    the circuit. The jobs are committed rows already: if the probe fails (or the process
    exits first), the relay sends them."""

    def probe() -> None:
        from django.db import connections

        try:
            _publish_now(Recorded(pending_ids=tuple(job_ids)))
        finally:
            connections.close_all()  # this thread's connections only

    logger.info("postlogin: broker cool-down over; probing it in the background")
    thread = threading.Thread(target=probe, name="postlogin-broker-probe", daemon=True)
    thread.start()
    return thread


def publish_marker() -> int | None:
    """Record a relay marker, then publish it behind the queued messages; returns its id, or
    None if the broker refused it (the row is deleted: it can never be seen)."""
    marker = markers.create()
    try:
        send_marker(marker.pk)
    except Exception:
        logger.warning("postlogin: relay marker not published", exc_info=True)
        marker.delete()
        return None
    return marker.pk


def relay(batch_size: int | None = None) -> list[int]:
    """Publish jobs whose message never went out, was lost, or whose worker died.

    Bounded to ``RELAY_BATCH_SIZE`` rows a call, oldest first. On PostgreSQL (and any database
    with ``SKIP LOCKED``) several relays can run at once: each takes rows the others have not
    locked. It stops at the first publish error; the rest waits for the next run.

    A queued job's message counts as lost once a worker has run a relay marker published after
    it (:mod:`postlogin.markers`); otherwise when ``RELAY_QUEUED_AFTER`` has passed. Unless a
    publish failed, the run ends by publishing a new marker behind the waiting jobs.
    """
    from django.db import connection

    limit = batch_size or postlogin_settings.RELAY_BATCH_SIZE
    seen = markers.last_seen()
    lost_before = seen.published_at if seen else None
    sent: list[int] = []
    failed = False
    with transaction.atomic():
        due = Job.objects.filter(ledger.due_for_relay(lost_before)).order_by("updated_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        for job_id in due.values_list("pk", flat=True)[:limit]:
            try:
                send_run_job(job_id)
            except Exception:
                logger.exception("postlogin: relay could not publish job %s", job_id)
                failed = True
                break
            sent.append(job_id)
        if sent:
            # Their messages are due from now on, after the last of them went out: a marker
            # that another relay publishes meanwhile may be ahead of some of them in the queue.
            ledger.mark_queued(sent, relayed=True, lost_before=lost_before)
    if sent:
        publish_breaker.record_success()
        logger.info("postlogin: relay published %s job(s)", len(sent))
    if not failed and markers.needed():
        publish_marker()
    markers.prune(seen)
    return sent
