"""``manage.py check`` says when the allauth settings cannot give postlogin what it needs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.checks import run_checks

from postlogin import jobs
from postlogin.models import Job
from postlogin.tokens import needs_access_token

pytestmark = pytest.mark.allauth

MICROSOFT = "allauth.socialaccount.providers.microsoft"
PHONE_FORM = {"signup": "postlogin.allauth.forms.PhoneSignupForm"}


def our_messages() -> list[tuple[str, str]]:
    return [
        (message.id, message.msg)
        for message in run_checks()
        if message.id and message.id.startswith("postlogin_allauth.")
    ]


@pytest.fixture
def profile_sync() -> Iterator[str]:
    """A job kind that calls the provider's API with the user's token."""

    @needs_access_token
    def sync(job: Job) -> None:  # pragma: no cover - never run here
        raise AssertionError

    jobs.register("crm_profile")(sync)
    yield "crm_profile"
    jobs.unregister("crm_profile")


def test_a_job_that_needs_tokens_while_allauth_stores_none(
    settings: Any, profile_sync: str
) -> None:
    settings.CELERY_BEAT_SCHEDULE = {}  # no re-sync: W004 is the next test's
    settings.POSTLOGIN = {"LOGIN_JOBS": ["avatar", profile_sync]}
    with_microsoft = settings.INSTALLED_APPS
    settings.INSTALLED_APPS = [app for app in with_microsoft if app != MICROSOFT]
    settings.SOCIALACCOUNT_STORE_TOKENS = False
    ((check_id, message),) = our_messages()
    assert check_id == "postlogin_allauth.W001"
    assert "crm_profile" in message
    assert "avatar" not in message, "no Microsoft provider: avatars come from URLs"

    settings.INSTALLED_APPS = with_microsoft
    ((check_id, message),) = our_messages()
    assert "avatar (Microsoft's photo is read from Graph with the token)" in message

    settings.SOCIALACCOUNT_STORE_TOKENS = True
    assert our_messages() == []


def test_no_warning_while_no_enabled_job_needs_tokens(settings: Any, profile_sync: str) -> None:
    settings.CELERY_BEAT_SCHEDULE = {}
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != MICROSOFT]
    settings.POSTLOGIN = {"LOGIN_JOBS": ["avatar"], "SIGNUP_JOBS": ["welcome_email", "no_such"]}
    settings.SOCIALACCOUNT_STORE_TOKENS = False
    assert our_messages() == []


def test_the_phone_form_is_skipped_while_allauth_signs_up_by_itself(settings: Any) -> None:
    settings.SOCIALACCOUNT_FORMS = PHONE_FORM
    settings.SOCIALACCOUNT_AUTO_SIGNUP = True
    assert [check_id for check_id, _ in our_messages()] == ["postlogin_allauth.W002"]

    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    assert our_messages() == []


def test_the_phone_form_without_phonenumbers(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SOCIALACCOUNT_FORMS = PHONE_FORM
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    monkeypatch.setitem(sys.modules, "phonenumbers", None)  # as if it were not installed
    assert [check_id for check_id, _ in our_messages()] == ["postlogin_allauth.E001"]


def test_the_phone_form_next_to_allauths_own_phone_field(settings: Any) -> None:
    settings.SOCIALACCOUNT_FORMS = PHONE_FORM
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    settings.ACCOUNT_SIGNUP_FIELDS = ["email*", "phone*"]
    assert "postlogin_allauth.W003" in [check_id for check_id, _ in our_messages()]


@pytest.mark.parametrize("form", ["allauth.socialaccount.forms.SignupForm", "no.such.Form"])
def test_other_signup_forms_are_left_alone(settings: Any, form: str) -> None:
    settings.SOCIALACCOUNT_FORMS = {"signup": form}
    assert our_messages() == []


def test_a_scheduled_resync_while_allauth_stores_no_tokens(settings: Any) -> None:
    from postlogin.schedules import beat_schedule

    from ..helpers import celery_app

    settings.SOCIALACCOUNT_STORE_TOKENS = False
    settings.POSTLOGIN = {"LOGIN_JOBS": []}  # W001 is the tests' above
    with celery_app("memory://", beat_schedule=beat_schedule()):
        ((check_id, message),) = our_messages()
    assert check_id == "postlogin_allauth.W004"
    assert "never re-synced" in message
    with celery_app("memory://", beat_schedule=beat_schedule(resync_every=None)):
        assert our_messages() == []
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    with celery_app("memory://", beat_schedule=beat_schedule()):
        assert our_messages() == []
