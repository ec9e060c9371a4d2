"""social-auth-app-django pipeline steps."""

from __future__ import annotations

from typing import Any

from . import providers
from .dispatch import dispatch
from .events import LoginEvent


def schedule_post_login_tasks(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    is_new: bool = False,
    *args: Any,
    response: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Record this login's post-login jobs; their messages go out after the commit.

    Place it after ``user_details`` in ``SOCIAL_AUTH_PIPELINE``. It never stops the pipeline.
    """
    if user is None or user.pk is None:
        return None
    extractor = providers.for_backend(backend.name)
    event = LoginEvent(
        user_id=user.pk,
        provider=providers.provider_id(extractor, backend.name),
        is_new=bool(is_new),
        profile=extractor.profile(response or {}),
    )
    dispatch(event)
    return None
