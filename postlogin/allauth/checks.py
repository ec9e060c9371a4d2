"""System checks for the allauth integration (ids ``postlogin_allauth.*``, never reused)."""

from __future__ import annotations

import importlib.util
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.socialaccount import app_settings as socialaccount_settings
from django.apps import apps
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from .. import jobs, kinds
from ..checks.celery_config import in_beat_schedule
from ..conf import postlogin_settings
from ..tokens import handler_needs_access_token

RESYNC = "postlogin.resync_stale"
MICROSOFT = "allauth.socialaccount.providers.microsoft"


@register(Tags.compatibility)
def check_token_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if socialaccount_settings.STORE_TOKENS:
        return []
    names = dict.fromkeys([*postlogin_settings.LOGIN_JOBS, *postlogin_settings.SIGNUP_JOBS])
    needing = []
    for name in names:
        kind = jobs.get_kind(name)
        if kind is not None and handler_needs_access_token(kind.handler):
            needing.append(name)
        elif name == kinds.AVATAR and apps.is_installed(MICROSOFT):
            needing.append("avatar (Microsoft's photo is read from Graph with the token)")
    if not needing:
        return []
    return [
        CheckWarning(
            f"POSTLOGIN job kind(s) {', '.join(needing)} call the provider with the user's "
            "access token, but allauth stores no tokens: they will fail for allauth logins.",
            hint="Set SOCIALACCOUNT_STORE_TOKENS = True.",
            id="postlogin_allauth.W001",
        )
    ]


@register(Tags.compatibility)
def check_resync_tokens(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if socialaccount_settings.STORE_TOKENS:
        return []
    if not in_beat_schedule(RESYNC):
        return []
    return [
        CheckWarning(
            f"The beat schedule runs {RESYNC}, but allauth stores no tokens: the profiles of "
            "allauth accounts are never re-synced.",
            hint="Set SOCIALACCOUNT_STORE_TOKENS = True, or beat_schedule(resync_every=None).",
            id="postlogin_allauth.W004",
        )
    ]


@register(Tags.compatibility)
def check_phone_signup_form(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from .forms import PhoneSignupForm  # allauth's forms module loads its settings' forms

    path = socialaccount_settings.FORMS.get("signup")
    try:
        form_class = import_string(path) if path else None
    except ImportError:
        return []  # allauth reports its own forms setting
    if not (isinstance(form_class, type) and issubclass(form_class, PhoneSignupForm)):
        return []
    messages: list[CheckMessage] = []
    if importlib.util.find_spec("phonenumbers") is None:
        messages.append(
            Error(
                "The phone signup form validates numbers with the phonenumbers package, "
                "which is not installed.",
                hint="pip install 'django-postlogin[allauth,phone]'",
                id="postlogin_allauth.E001",
            )
        )
    if socialaccount_settings.AUTO_SIGNUP:
        messages.append(
            CheckWarning(
                "SOCIALACCOUNT_FORMS['signup'] asks for a phone number, but allauth signs "
                "users up without showing the form whenever the provider's email is usable.",
                hint="Set SOCIALACCOUNT_AUTO_SIGNUP = False.",
                id="postlogin_allauth.W002",
            )
        )
    if "phone" in account_settings.SIGNUP_FIELDS:
        messages.append(
            CheckWarning(
                "ACCOUNT_SIGNUP_FIELDS has allauth's own phone field, which replaces the "
                "phone field of the postlogin signup form.",
                hint="Use one of the two: remove 'phone' from ACCOUNT_SIGNUP_FIELDS, or the "
                "postlogin form from SOCIALACCOUNT_FORMS.",
                id="postlogin_allauth.W003",
            )
        )
    return messages
