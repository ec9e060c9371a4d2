"""Turn a :class:`~postlogin.events.LoginEvent` into Celery messages, published after commit.

Publishing never fails a login: a broker that refuses or hangs is logged and skipped.
Only IDs and plain strings cross the broker, never user objects or tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.db import transaction

from .conf import postlogin_settings
from .events import LoginEvent

logger = logging.getLogger(__name__)


def planned_tasks(event: LoginEvent) -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    """``(job kind, task name, args)`` for each piece of work the event calls for."""
    kinds = list(postlogin_settings.LOGIN_JOBS)
    if event.is_new:
        kinds += [kind for kind in postlogin_settings.SIGNUP_JOBS if kind not in kinds]
    for kind in kinds:
        if kind == "avatar":
            if event.profile.avatar_url:
                yield kind, "postlogin.fetch_avatar", (event.user_id, event.profile.avatar_url)
        elif kind == "welcome_email":
            yield kind, "postlogin.send_welcome_email", (event.user_id,)
        else:
            logger.warning("postlogin: unknown job kind %r in settings, skipped", kind)


def dispatch(event: LoginEvent) -> None:
    """Schedule the event's work to be published once the current transaction commits."""
    for kind, task_name, args in planned_tasks(event):
        transaction.on_commit(partial(publish, task_name, args, user_id=event.user_id, kind=kind))


def publish(task_name: str, args: tuple[Any, ...], *, user_id: Any, kind: str) -> bool:
    """Send one task message. Returns False, and logs, when the broker cannot take it."""
    from celery import current_app

    try:
        current_app.send_task(
            task_name,
            args=args,
            queue=postlogin_settings.TASK_QUEUE,
            retry=True,
            retry_policy=dict(postlogin_settings.PUBLISH_RETRY_POLICY),
            ignore_result=True,
        )
    except Exception:
        # kombu raises OperationalError when the broker refuses, socket timeouts when it
        # hangs, RuntimeError when a result backend is down: none of them may fail a login.
        logger.exception(
            "postlogin: could not publish %s job for user %s; the work was not scheduled",
            kind,
            user_id,
        )
        return False
    return True
