"""Turn a :class:`~postlogin.events.LoginEvent` into Job rows, and publish them after commit.

The rows are inserted in the login's own transaction (one bulk INSERT; a job that already
exists for the same user, kind and key is left alone). Messages go out only after the commit,
so a worker never looks for a row that is not there yet, and publishing never fails a login:
a broker that refuses or hangs is logged, the circuit breaker opens, and the jobs wait as
``pending`` for the relay. Only job IDs cross the broker.

A login's messages go out together: one producer, and on transports that can (Redis, with
kombu 5.7+) one round trip. While the circuit is open no login tries the broker; when the
cool-down is over, a background thread probes it with that login's jobs, so no login waits
on a broker that may still be hung.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from . import jobs, ledger, webhook_jobs  # noqa: F401  (registers the webhook kind)
from .breaker import PROBE, SKIP, publish_breaker
from .conf import postlogin_settings
from .events import LoginEvent
from .models import Job

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "postlogin.run_job"


def kinds_for(event: LoginEvent) -> list[str]:
    """The job kind names the settings ask for on this login, each once, in order."""
    names = list(postlogin_settings.LOGIN_JOBS)
    if event.is_new:
        names += postlogin_settings.SIGNUP_JOBS
    if postlogin_settings.WEBHOOKS:
        names.append("webhook")  # its planner picks the endpoints this event goes to
    return list(dict.fromkeys(names))


def record_jobs(event: LoginEvent) -> list[int]:
    """Insert the event's Job rows (conflicts ignored); return the IDs still to publish."""
    planned: list[Job] = []
    for name in kinds_for(event):
        kind = jobs.get_kind(name)
        if kind is None:
            logger.error("postlogin: no job kind %r is registered; it was not scheduled", name)
            continue
        planned_specs = kind.plan(event)
        specs = planned_specs if isinstance(planned_specs, list) else [planned_specs]
        planned.extend(
            Job(
                user_id=event.user_id,
                kind=name,
                key=spec.key,
                provider=event.provider,
                payload=spec.payload,
            )
            for spec in specs
            if spec is not None
        )
    if not planned:
        return []
    Job.objects.bulk_create(planned, ignore_conflicts=True)
    # The rows of this work, new or already waiting: one simple query on the unique index's
    # columns, the exact (kind, key) pairs picked here (cheaper than an OR of pairs in SQL).
    same_work = {(job.kind, job.key) for job in planned}
    rows = Job.objects.filter(
        user_id=event.user_id,
        kind__in={kind for kind, _ in same_work},
        key__in={key for _, key in same_work},
        state=Job.State.PENDING,
    ).values_list("pk", "kind", "key")
    return sorted(pk for pk, kind, key in rows if (kind, key) in same_work)


def dispatch(event: LoginEvent) -> list[int]:
    """Record the event's jobs now and publish them once the transaction commits."""
    job_ids = record_jobs(event)
    publish_after_commit(job_ids)
    return job_ids


def publish_after_commit(job_ids: Iterable[int]) -> None:
    ids = list(job_ids)
    if ids:
        transaction.on_commit(partial(publish, ids), robust=True)


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
    """Publish from a login: through the circuit breaker; what is not sent stays pending.

    Returns the IDs sent. With the circuit open nothing is tried. When its cool-down is over,
    the broker is probed in a background thread (see :func:`probe_in_background`) and this
    call returns at once: the relay or the probe sends the jobs.
    """
    if not job_ids:
        return []
    decision = publish_breaker.acquire()
    if decision == SKIP:
        _left_pending(len(job_ids))
        return []
    if decision == PROBE:
        probe_in_background(job_ids)
        return []
    return _publish_now(job_ids)


def _left_pending(count: int) -> None:
    logger.warning("postlogin: %s job(s) left pending for the relay: broker unavailable", count)


def _publish_now(job_ids: list[int]) -> list[int]:
    try:
        send_run_jobs(job_ids)
    except Exception:
        # kombu raises OperationalError when the broker refuses, socket timeouts when it
        # hangs, RuntimeError when a result backend is down: none may fail a login.
        publish_breaker.record_failure()
        listed = ", ".join(str(job_id) for job_id in job_ids)
        logger.exception("postlogin: could not publish job(s) %s; the relay will", listed)
        _left_pending(len(job_ids))
        return []
    publish_breaker.record_success()
    # The IDs come from record_jobs or replay: pending rows (one the relay took meanwhile is
    # already queued and is left alone).
    ledger.mark_published(job_ids, now=timezone.now())
    return job_ids


def probe_in_background(job_ids: list[int]) -> threading.Thread:
    """Try the broker with ``job_ids`` from a daemon thread; its result closes or re-opens
    the circuit. The jobs are committed rows already: if the probe fails (or the process
    exits first), the relay sends them."""

    def probe() -> None:
        from django.db import connections

        try:
            _publish_now(job_ids)
        finally:
            connections.close_all()  # this thread's connections only

    logger.info("postlogin: broker cool-down over; probing it in the background")
    thread = threading.Thread(target=probe, name="postlogin-broker-probe", daemon=True)
    thread.start()
    return thread


def relay(batch_size: int | None = None) -> list[int]:
    """Publish jobs whose message never went out, was lost, or whose worker died.

    Bounded to ``RELAY_BATCH_SIZE`` rows a call, oldest first. On PostgreSQL (and any database
    with ``SKIP LOCKED``) several relays can run at once: each takes rows the others have not
    locked. It stops at the first publish error; the rest waits for the next run.
    """
    from django.db import connection

    limit = batch_size or postlogin_settings.RELAY_BATCH_SIZE
    now = timezone.now()
    sent: list[int] = []
    with transaction.atomic():
        due = Job.objects.filter(ledger.due_for_relay(now)).order_by("updated_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        for job_id in due.values_list("pk", flat=True)[:limit]:
            try:
                send_run_job(job_id)
            except Exception:
                logger.exception("postlogin: relay could not publish job %s", job_id)
                break
            sent.append(job_id)
        if sent:
            ledger.mark_queued(sent, now=now, event="relayed")
    if sent:
        publish_breaker.record_success()
        logger.info("postlogin: relay published %s job(s)", len(sent))
    return sent
