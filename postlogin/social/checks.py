"""Checks of ``SOCIAL_AUTH_PIPELINE``: where the postlogin step sits, and unsafe linking."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

MODULE = "postlogin.social.pipeline"
STEP = f"{MODULE}.schedule_post_login_tasks"
#: The steps' deprecated module: its paths still work (and are checked), with a warning.
OLD_MODULE = "postlogin.pipeline"
OLD_STEP = f"{OLD_MODULE}.schedule_post_login_tasks"
ASSOCIATE_BY_EMAIL = "social_core.pipeline.social_auth.associate_by_email"
#: The step needs the user row (``create_user``) and the login's social account
#: (``associate_user``); custom replacements of either keep the same function name.
USER_STEP_NAMES = ("create_user", "associate_user")
LAST_STANDARD_STEP = "social_core.pipeline.user.user_details"


def social_auth_pipeline() -> list[str] | None:
    """The pipeline social-auth runs, or None when social-auth is not in use here."""
    if not apps.is_installed("social_django"):
        return None
    from social_core.pipeline import DEFAULT_AUTH_PIPELINE

    pipeline = getattr(settings, "SOCIAL_AUTH_PIPELINE", DEFAULT_AUTH_PIPELINE)
    if isinstance(pipeline, str) or not isinstance(pipeline, list | tuple):
        return None  # social-auth itself fails on it, with its own message
    return [str(step) for step in pipeline]


@register("postlogin")
def check_pipeline_step(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    pipeline = social_auth_pipeline()
    if pipeline is None:
        return []
    step = next((path for path in pipeline if path in (STEP, OLD_STEP)), None)
    if step is None:
        return [
            Warning(
                f"SOCIAL_AUTH_PIPELINE does not include {STEP!r}: social-auth logins schedule "
                "no post-login job.",
                hint=f"Add {STEP!r} as the last step of SOCIAL_AUTH_PIPELINE, after "
                f"{LAST_STANDARD_STEP!r}.",
                id="postlogin.W001",
            )
        ]
    position = pipeline.index(step)
    later = [path for path in pipeline[position:] if path.rpartition(".")[2] in USER_STEP_NAMES]
    if later:
        return [
            Error(
                f"{step!r} comes before {later[0]!r} in SOCIAL_AUTH_PIPELINE: on a first login "
                "there is no user yet when it runs, so no job is scheduled, and a login that "
                "then fails to link its account would still have scheduled jobs.",
                hint=f"Move {step!r} to the end of SOCIAL_AUTH_PIPELINE, after "
                f"{LAST_STANDARD_STEP!r}.",
                id="postlogin.E001",
            )
        ]
    return []


@register("postlogin")
def check_associate_by_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    pipeline = social_auth_pipeline()
    if pipeline is None or ASSOCIATE_BY_EMAIL not in pipeline:
        return []
    return [
        Warning(
            f"SOCIAL_AUTH_PIPELINE includes {ASSOCIATE_BY_EMAIL!r}: it signs a social login into "
            "the existing account that has the same email address, whether or not the provider "
            "verified that address, so whoever controls a provider account with your user's "
            "address takes over the account.",
            hint=f"Remove {ASSOCIATE_BY_EMAIL!r} from SOCIAL_AUTH_PIPELINE.",
            id="postlogin.W002",
        )
    ]


@register("postlogin")
def check_deprecated_step_paths(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    pipeline = social_auth_pipeline() or []
    return [
        Warning(
            f"SOCIAL_AUTH_PIPELINE names {path!r}, a deprecated path: the postlogin steps have "
            f"moved to {MODULE}, and the old paths go away in django-postlogin 1.0.",
            hint=f"Replace {path!r} with {MODULE + path.removeprefix(OLD_MODULE)!r}.",
            id="postlogin.W011",
        )
        for path in pipeline
        if path.startswith(f"{OLD_MODULE}.")
    ]
