"""Celery tasks. They stay thin: the work itself lives in :mod:`postlogin.jobs`.

This module imports Celery, which is why Celery is a hard dependency of the package.
"""

from __future__ import annotations

import smtplib
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from . import jobs
from .conf import postlogin_settings
from .net import TransientFetchError

#: Errors that a later attempt may not meet. Anything else fails the task at once.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    TransientFetchError,
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
)

_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "ignore_result": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def retry_with_backoff(task: Task, exc: BaseException) -> BaseException:
    """Ask Celery to retry ``task`` after an exponential, fully jittered countdown."""
    countdown = get_exponential_backoff_interval(
        factor=postlogin_settings.RETRY_BACKOFF,
        retries=task.request.retries,
        maximum=postlogin_settings.RETRY_BACKOFF_MAX,
        full_jitter=True,
    )
    return task.retry(  # type: ignore[no-any-return]
        exc=exc, countdown=countdown, max_retries=postlogin_settings.MAX_RETRIES
    )


@shared_task(name="postlogin.fetch_avatar", **_TASK_OPTIONS)
def fetch_avatar(self: Task, user_id: int, avatar_url: str) -> None:
    """Download and store the user's avatar from ``avatar_url``."""
    try:
        jobs.fetch_avatar(user_id, avatar_url)
    except RETRYABLE_ERRORS as exc:
        raise retry_with_backoff(self, exc) from exc


@shared_task(name="postlogin.send_welcome_email", **_TASK_OPTIONS)
def send_welcome_email(self: Task, user_id: int) -> None:
    """Send the welcome email, at most once per user."""
    try:
        jobs.send_welcome_email(user_id)
    except RETRYABLE_ERRORS as exc:
        raise retry_with_backoff(self, exc) from exc
