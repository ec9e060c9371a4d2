"""Import paths of earlier versions, kept working for a while with a ``DeprecationWarning``.

Each entry maps an old module to the names that moved out of it and the module they live in
now (``docs/upgrading.md`` lists them). The old modules resolve those names on first use,
through their module ``__getattr__``, so that nothing here is imported before it is asked for.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any

_AVATAR = "postlogin.kinds.avatar"
_WELCOME = "postlogin.kinds.welcome_email"
_PUBLISH = "postlogin.publish"
_PROFILE_SYNC = "postlogin.kinds.profile_sync"

#: Old module -> {name: the module it moved to, or ``module:new_name`` if it was renamed}.
MOVED: dict[str, dict[str, str]] = {
    "postlogin.jobs": {
        "plan_avatar": _AVATAR,
        "avatar": _AVATAR,
        "plan_welcome_email": _WELCOME,
        "welcome_email": _WELCOME,
        "welcome_message": _WELCOME,
        "verified_for": _WELCOME,
        "stable_message_id": _WELCOME,
    },
    "postlogin.dispatch": {
        "RUN_JOB_TASK": _PUBLISH,
        "publish": _PUBLISH,
        "publish_recorded": _PUBLISH,
        "probe_in_background": _PUBLISH,
        "relay": _PUBLISH,
        "send_marker": _PUBLISH,
        "send_run_job": _PUBLISH,
        "send_run_jobs": _PUBLISH,
    },
    "postlogin.sync": {
        "KIND": "postlogin.kinds:PROFILE_SYNC",
        "DueAccount": _PROFILE_SYNC,
        "stale_accounts": _PROFILE_SYNC,
        "schedule_stale": _PROFILE_SYNC,
        "sync_profile": _PROFILE_SYNC,
        "apply_profile": _PROFILE_SYNC,
    },
    "postlogin.webhook_jobs": dict.fromkeys(
        ("SIGNUP", "LOGIN", "EVENT_TYPES", "endpoint", "plan_webhooks", "deliver_webhook"),
        "postlogin.kinds.webhook",
    ),
}


def module_getattr(module: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of the old module ``module``: a moved name warns and resolves."""
    moved = MOVED[module]

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target, _, new_name = moved[name].partition(":")
        warnings.warn(
            f"{module}.{name} has moved to {target}.{new_name or name}; the old path will be "
            "removed",
            DeprecationWarning,
            stacklevel=3,  # the caller of the old module's __getattr__
        )
        return getattr(import_module(target), new_name or name)

    return __getattr__
