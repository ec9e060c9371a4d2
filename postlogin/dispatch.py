"""Turn a :class:`~postlogin.events.LoginEvent` into Job rows, and publish them after commit.

The rows are inserted in the login's own transaction (one bulk INSERT; a job that already
exists for the same user, kind and key is left alone). Messages go out only after the commit,
so a worker never looks for a row that is not there yet, and publishing never fails a login:
a broker that refuses or hangs is logged, the circuit breaker opens, and the jobs wait as
``pending`` for the relay. Only job IDs cross the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import jobs, ledger, webhook_jobs  # noqa: F401  (registers the webhook kind)
from .breaker import publish_breaker
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
    same_work = Q()
    for job in planned:
        same_work |= Q(kind=job.kind, key=job.key)
    return list(
        Job.objects.filter(same_work, user_id=event.user_id, state=Job.State.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def dispatch(event: LoginEvent) -> list[int]:
    """Record the event's jobs now and publish them once the transaction commits."""
    job_ids = record_jobs(event)
    publish_after_commit(job_ids)
    return job_ids


def publish_after_commit(job_ids: Iterable[int]) -> None:
    ids = list(job_ids)
    if ids:
        transaction.on_commit(partial(publish, ids), robust=True)


def send_run_job(job_id: int) -> None:
    """Publish one ``run_job`` message, bounded by ``PUBLISH_RETRY_POLICY``."""
    current_app.send_task(
        RUN_JOB_TASK,
        args=(job_id,),
        queue=postlogin_settings.TASK_QUEUE,
        retry=True,
        retry_policy=dict(postlogin_settings.PUBLISH_RETRY_POLICY),
        ignore_result=True,
    )


def publish(job_ids: list[int]) -> list[int]:
    """Publish from a login: through the circuit breaker; what is not sent stays pending."""
    sent: list[int] = []
    for job_id in job_ids:
        if not publish_breaker.allow():
            break
        try:
            send_run_job(job_id)
        except Exception:
            # kombu raises OperationalError when the broker refuses, socket timeouts when it
            # hangs, RuntimeError when a result backend is down: none may fail a login.
            publish_breaker.record_failure()
            logger.exception("postlogin: could not publish job %s; the relay will", job_id)
            break
        publish_breaker.record_success()
        sent.append(job_id)
    left = len(job_ids) - len(sent)
    if left:
        logger.warning("postlogin: %s job(s) left pending for the relay: broker unavailable", left)
    if sent:
        ledger.mark_queued(sent, now=timezone.now())
    return sent


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
