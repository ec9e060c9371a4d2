"""social-auth partial pipelines: finding the one being completed, and removing stale ones.

A partial row keeps the provider's response, access token included, in plain text until the
login completes; nothing in social-auth expires it. :func:`clear_stale` removes those older
than ``POSTLOGIN["PARTIAL_MAX_AGE"]`` (the beat schedule runs it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.utils import timezone

from ..conf import postlogin_settings

#: social-core's session key for the partial pipeline this browser session started.
SESSION_TOKEN_KEY = "partial_pipeline_token"  # noqa: S105 (a session key, not a secret)


def _partial_model() -> Any:
    from social_django.models import Partial

    return Partial


def clear_stale(max_age: int | None = None) -> int:
    """Delete partial pipelines older than ``max_age`` seconds; returns how many."""
    if not apps.is_installed("social_django"):
        return 0  # social-auth is not in use here: nothing to clear
    partial_model = _partial_model()
    age = postlogin_settings.PARTIAL_MAX_AGE if max_age is None else max_age
    cutoff = timezone.now() - timedelta(seconds=age)
    deleted, _ = partial_model.objects.filter(timestamp__lt=cutoff).delete()
    return int(deleted)


def load_for_session(request: HttpRequest, token: str) -> Any | None:
    """The partial ``token`` names, only if this browser session started it and it is fresh."""
    if not token or request.session.get(SESSION_TOKEN_KEY) != token:
        return None
    partial = _partial_model().objects.filter(token=token).first()
    if partial is None:
        return None
    age = timezone.now() - partial.timestamp
    if age > timedelta(seconds=postlogin_settings.PARTIAL_MAX_AGE):
        return None
    return partial
