"""Checks of the job kinds the settings name."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from ..conf import postlogin_settings
from ..jobs import registered_kinds


@register("postlogin")
def check_listed_kinds_registered(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every kind in ``SIGNUP_JOBS`` and ``LOGIN_JOBS`` is registered once the apps are ready
    (checks run after every ``AppConfig.ready()``): a login plans no job of a missing one."""
    try:
        listed = {
            "SIGNUP_JOBS": list(postlogin_settings.SIGNUP_JOBS),
            "LOGIN_JOBS": list(postlogin_settings.LOGIN_JOBS),
        }
    except ImproperlyConfigured:
        return []  # postlogin.E002 says why
    known = set(registered_kinds())
    return [
        Error(
            f"POSTLOGIN[{setting!r}] lists the job kind {name!r}, which is not registered: "
            "logins schedule none of its jobs.",
            hint=f"Register it with @postlogin.jobs.register({name!r}) in a module your "
            "AppConfig.ready() imports (docs/extending.md), or correct the name "
            f"(registered: {', '.join(sorted(known))}).",
            id="postlogin.E003",
        )
        for setting, names in listed.items()
        for name in names
        if name not in known
    ]
