"""Checks of how workers send the welcome email: a hung mail server must cost a bounded wait."""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.core.checks import CheckMessage, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import kinds
from ..conf import postlogin_settings


def _is_smtp(backend: Any) -> bool:
    from django.core.mail.backends.smtp import EmailBackend

    try:
        backend_class = import_string(str(backend))
    except ImportError:
        return False  # Django reports it when mail is sent
    return isinstance(backend_class, type) and issubclass(backend_class, EmailBackend)


def smtp_without_timeout() -> str | None:
    """The setting to give a timeout when mail goes through Django's SMTP backend without one
    (it then waits for ever on a server that accepts and never answers), else None."""
    mailers = getattr(settings, "MAILERS", None) if django.VERSION >= (6, 1) else None
    if mailers:
        mailer = mailers.get("default") or {}
        backend, options = mailer.get("BACKEND"), mailer.get("OPTIONS") or {}
        timeout, where = options.get("timeout"), "MAILERS['default']['OPTIONS']['timeout']"
    else:
        backend, timeout, where = settings.EMAIL_BACKEND, settings.EMAIL_TIMEOUT, "EMAIL_TIMEOUT"
    if timeout is not None or not _is_smtp(backend):
        return None
    return where


@register("postlogin")
def check_smtp_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        names = {*postlogin_settings.SIGNUP_JOBS, *postlogin_settings.LOGIN_JOBS}
    except ImproperlyConfigured:
        return []  # postlogin.E002
    setting = smtp_without_timeout() if kinds.WELCOME_EMAIL in names else None
    if setting is None:
        return []
    return [
        Warning(
            "The welcome email goes through Django's SMTP backend with no timeout: a mail "
            "server that accepts connections and never answers holds a worker thread for ever, "
            "and the job past its lease.",
            hint=f"Set {setting} (10 seconds, say); the job is retried with backoff when it "
            "runs out.",
            id="postlogin.W010",
        )
    ]
