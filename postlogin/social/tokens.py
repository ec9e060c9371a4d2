"""social-auth's stored access tokens: ``UserSocialAuth.extra_data["access_token"]``."""

from __future__ import annotations

from typing import Any

from .. import providers


def backend_names(provider_id: str) -> list[str]:
    """The social-core backend names whose logins are recorded as ``provider_id``: the
    extractor's backends, or the backend itself for one without an extractor (``Job.provider``
    is then the backend name)."""
    extractor = providers.for_id(provider_id)
    return list(extractor.backend_names) if extractor else [provider_id]


def access_token(user_id: Any, provider_id: str) -> str | None:
    """The access token of the user's most recently modified account at ``provider_id``, as
    social-auth stored it at the last login (or refresh); None when there is none."""
    from social_django.models import UserSocialAuth

    social = (
        UserSocialAuth.objects.filter(user_id=user_id, provider__in=backend_names(provider_id))
        .order_by("-modified")
        .first()
    )
    token = social.extra_data.get("access_token") if social else None
    return token if isinstance(token, str) and token else None
