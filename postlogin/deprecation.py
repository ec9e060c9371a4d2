"""Deprecated import paths: old module names that forward to where their contents moved.

An alias module holds no code: its ``__getattr__`` (:pep:`562`) finds each name in the new
module and warns with :class:`PostloginDeprecationWarning`, naming the new path, every time an
old path is used (so a dotted path in settings, resolved at startup, warns too).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


class PostloginDeprecationWarning(DeprecationWarning):
    """An import path that still works but has moved; the message names the new one. The old
    paths go away in django-postlogin 1.0."""


def moved(old_module: str, new_paths: Callable[[str], str | None]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old_module``: ``new_paths(name)`` is the dotted path where
    ``name`` lives now, or None for a name that never lived here."""

    def __getattr__(name: str) -> Any:
        new_path = None if name.startswith("_") else new_paths(name)
        if new_path is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        module_name, _, attribute = new_path.rpartition(".")
        value = getattr(import_module(module_name), attribute)
        warnings.warn(
            f"{old_module}.{name} has moved to {new_path}; the old path goes away in "
            "django-postlogin 1.0.",
            PostloginDeprecationWarning,
            stacklevel=2,
        )
        return value

    return __getattr__


def moved_module(old_module: str, new_module: str) -> Callable[[str], Any]:
    """:func:`moved` for a whole module: every public name keeps its name in ``new_module``."""

    def new_path(name: str) -> str | None:
        return f"{new_module}.{name}" if hasattr(import_module(new_module), name) else None

    return moved(old_module, new_path)


def renamed(old_module: str, new_paths: Mapping[str, str]) -> Callable[[str], Any]:
    """:func:`moved` for some names of a module that stays (old name -> new dotted path)."""
    return moved(old_module, new_paths.get)


_AVATAR = "postlogin.kinds.avatar"
_WELCOME = "postlogin.kinds.welcome_email"
_PUBLISH = "postlogin.publish"
_PROFILE_SYNC = "postlogin.kinds.profile_sync"
_WEBHOOK = "postlogin.kinds.webhook"

#: Names that moved out of modules that stay: old module -> {name: its new dotted path}
#: (``docs/upgrading.md`` lists them). Each old module's ``__getattr__`` is
#: ``renamed(__name__, MOVED[__name__])``.
MOVED: dict[str, dict[str, str]] = {
    "postlogin.jobs": {
        name: f"{module}.{name}"
        for module, names in (
            (_AVATAR, ("plan_avatar", "avatar")),
            (
                _WELCOME,
                (
                    "plan_welcome_email",
                    "welcome_email",
                    "welcome_message",
                    "verified_for",
                    "stable_message_id",
                ),
            ),
        )
        for name in names
    },
    "postlogin.dispatch": {
        name: f"{_PUBLISH}.{name}"
        for name in (
            "RUN_JOB_TASK",
            "publish",
            "publish_recorded",
            "probe_in_background",
            "relay",
            "send_marker",
            "send_run_job",
            "send_run_jobs",
        )
    },
    "postlogin.sync": {
        "KIND": "postlogin.kinds.PROFILE_SYNC",
        **{
            name: f"{_PROFILE_SYNC}.{name}"
            for name in (
                "DueAccount",
                "stale_accounts",
                "schedule_stale",
                "sync_profile",
                "apply_profile",
            )
        },
        **{
            name: f"postlogin.accounts.{name}"
            for name in ("TokensRefused", "AccountSource", "source", "installed_sources")
        },
    },
    "postlogin.webhook_jobs": {
        name: f"{_WEBHOOK}.{name}"
        for name in (
            "SIGNUP",
            "LOGIN",
            "EVENT_TYPES",
            "endpoint",
            "plan_webhooks",
            "deliver_webhook",
        )
    },
}
