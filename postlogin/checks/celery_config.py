"""Checks of the Celery configuration the project publishes postlogin's messages with.

They read the configuration of Celery's current app (the project's app, when its module is
imported at Django start-up as Celery's Django guide does in ``proj/__init__.py``). When no app
is configured, they read ``CELERY_``-prefixed Django settings, as
``app.config_from_object("django.conf:settings", namespace="CELERY")`` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery, Task, current_app
from celery.loaders.default import Loader as FallbackLoader
from django.apps import apps
from django.core.checks import CheckMessage, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from ..conf import postlogin_settings
from ..publish import RUN_JOB_TASK

RUN_JOB = RUN_JOB_TASK
RELAY = "postlogin.relay_pending"
POSTLOGIN_TASKS = (RUN_JOB, RELAY)
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+socket", "sentinel"})
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
#: kombu's Redis transport default.
REDIS_VISIBILITY_TIMEOUT = 3600
TRANSPORT_OPTIONS = "CELERY_BROKER_TRANSPORT_OPTIONS (Celery's broker_transport_options)"


def project_app() -> Celery:
    """The Celery app whose configuration applies to this project."""
    app: Celery = current_app._get_current_object()
    if isinstance(app.loader, FallbackLoader) and app.main == "default":
        # Celery's fallback app (no project app was loaded): read the Django settings.
        app = Celery("postlogin-checks", set_as_current=False, fixups=[])
        app.config_from_object("django.conf:settings", namespace="CELERY")
    return app


def effective_tasks(app: Celery) -> dict[str, Task]:
    """postlogin's tasks as ``app``'s configuration makes them (task settings, annotations).

    They are bound to a throwaway app with the same task settings, so that the check does not
    finalize the project's app, which would run its ``on_after_finalize`` receivers too early.
    """
    from .. import tasks  # noqa: F401  (declares the shared tasks)

    keys = ["task_annotations", *(config_key for _attr, config_key in Task.from_config)]
    probe = Celery("postlogin-checks-probe", set_as_current=False, fixups=[])
    probe.conf.update({key: app.conf[key] for key in keys})
    return {name: probe.tasks[name] for name in POSTLOGIN_TASKS}


def broker_scheme(app: Celery) -> str:
    """The scheme of the URL messages are published to; Celery's default broker is AMQP."""
    url = app.conf.broker_write_url or app.conf.broker_url or "amqp://"
    if isinstance(url, list | tuple):
        url = url[0] if url else "amqp://"
    return str(url).split(";")[0].strip().partition("://")[0].lower()


def transport_options(app: Celery) -> Mapping[str, Any]:
    options = app.conf.broker_transport_options
    return options if isinstance(options, Mapping) else {}


@register("postlogin")
def check_acks_late(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    run_job = effective_tasks(project_app())[RUN_JOB]
    if run_job.acks_late:
        return []
    return [
        Warning(
            f"{RUN_JOB} acknowledges its message before running (acks_late is off): a worker "
            "that stops after taking a message and before claiming its job loses the message, "
            "and the job waits for the relay (POSTLOGIN['RELAY_QUEUED_AFTER']).",
            hint=f"Remove acks_late=False for {RUN_JOB!r} (or '*') from CELERY_TASK_ANNOTATIONS; "
            "the task sets acks_late=True itself.",
            id="postlogin.W003",
        )
    ]


@register("postlogin")
def check_broker_timeouts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    app = project_app()
    scheme = broker_scheme(app)
    if scheme in REDIS_SCHEMES:
        needed = {"socket_connect_timeout": 1, "socket_timeout": 2}
    elif scheme in AMQP_SCHEMES:
        needed = {"read_timeout": 2, "write_timeout": 2}
    else:
        return []  # in-memory, SQL and file transports have no socket to hang on
    options = transport_options(app)
    missing = {key: value for key, value in needed.items() if not options.get(key)}
    if not missing and app.conf.broker_connection_timeout:
        return []
    fixes = []
    if missing:
        pairs = ", ".join(f"{key!r}: {value}" for key, value in missing.items())
        fixes.append(f"Add {pairs} to {TRANSPORT_OPTIONS}.")
    if not app.conf.broker_connection_timeout:
        fixes.append("Set CELERY_BROKER_CONNECTION_TIMEOUT = 2.")
    return [
        Warning(
            f"Publishing to the {scheme} broker has no socket timeout: a broker that stops "
            "answering (an overloaded or paused Redis, a RabbitMQ that blocks publishers during "
            "a memory or disk alarm) would hang every login that publishes.",
            hint=" ".join(fixes),
            id="postlogin.W004",
        )
    ]


@register("postlogin")
def check_visibility_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    app = project_app()
    if broker_scheme(app) not in REDIS_SCHEMES:
        return []
    try:
        backoff_max = postlogin_settings.RETRY_BACKOFF_MAX
        lease = postlogin_settings.JOB_LEASE
    except ImproperlyConfigured:
        return []  # postlogin.E002 reports it
    # A retry's message waits unacknowledged on a worker for its countdown, then stays
    # unacknowledged while the job runs (acks_late): Redis must not re-deliver it meanwhile.
    longest = backoff_max + lease
    visibility = transport_options(app).get("visibility_timeout", REDIS_VISIBILITY_TIMEOUT)
    if isinstance(visibility, int | float) and visibility > longest:
        return []
    return [
        Warning(
            f"The Redis broker's visibility_timeout ({visibility} s) is not longer than a "
            f"retry's countdown plus a run (POSTLOGIN['RETRY_BACKOFF_MAX'] + "
            f"POSTLOGIN['JOB_LEASE'] = {longest} s): Redis delivers such messages again while "
            "they are still waiting or running.",
            hint=f"Set 'visibility_timeout' in {TRANSPORT_OPTIONS} to more than {longest} "
            "(3600, kombu's default, suits postlogin's defaults), or lower "
            "POSTLOGIN['RETRY_BACKOFF_MAX'].",
            id="postlogin.W005",
        )
    ]


@register("postlogin")
def check_result_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    app = project_app()
    backend = app.conf.result_backend
    if not backend or str(backend).lower() == "disabled":
        return []
    storing = [
        name
        for name, task in effective_tasks(app).items()
        if not task.ignore_result or task.store_errors_even_if_ignored
    ]
    if not storing:
        return []
    return [
        Warning(
            f"{', '.join(storing)} store results in the result backend: useless writes (the "
            "job ledger holds every outcome), and a result backend that is down slows or fails "
            "the workers and beat that publish these tasks.",
            hint="Set CELERY_TASK_STORE_ERRORS_EVEN_IF_IGNORED = False, and remove "
            "ignore_result=False for postlogin's tasks (or '*') from CELERY_TASK_ANNOTATIONS.",
            id="postlogin.W006",
        )
    ]


def relay_in_periodic_tasks(databases: Any) -> bool | None:
    """Whether django-celery-beat's table has an enabled relay; None when it can't be told.

    System checks touch a database only when given one (``manage.py check --database``).
    """
    if not apps.is_installed("django_celery_beat"):
        return False
    if not databases:
        return None
    return _relay_in_beat_table(databases)


def _relay_in_beat_table(databases: list[str]) -> bool | None:  # pragma: no cover
    # django-celery-beat is not in postlogin's test environment (it pins Django below 6.1), so
    # this runs in projects only.
    model = apps.get_app_config("django_celery_beat").get_model("PeriodicTask")
    try:
        return any(
            model._default_manager.using(alias).filter(task=RELAY, enabled=True).exists()
            for alias in databases
        )
    except DatabaseError:
        return None


def in_beat_schedule(task_name: str) -> bool:
    """Whether the project's Celery beat schedule (``CELERY_BEAT_SCHEDULE``) runs the task."""
    schedule = project_app().conf.beat_schedule or {}
    entries = schedule.values() if isinstance(schedule, Mapping) else []
    return any(isinstance(entry, Mapping) and entry.get("task") == task_name for entry in entries)


@register("postlogin")
def check_relay_scheduled(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    if in_beat_schedule(RELAY):
        return []
    if relay_in_periodic_tasks(databases) is not False:
        return []
    return [
        Warning(
            f"No beat schedule entry runs {RELAY}: jobs left pending by a broker outage, lost "
            "messages and jobs whose worker died are never published again.",
            hint="Add postlogin's entries to the beat schedule: "
            "`from postlogin.schedules import beat_schedule` and "
            "`CELERY_BEAT_SCHEDULE = {**beat_schedule()}`, and run `celery beat`.",
            id="postlogin.W007",
        )
    ]
