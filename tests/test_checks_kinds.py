"""postlogin.E003: a kind listed in SIGNUP_JOBS or LOGIN_JOBS that no app registered."""

from __future__ import annotations

from typing import Any

from django.core.checks import run_checks

from postlogin import jobs


def kind_errors() -> list[Any]:
    return [m for m in run_checks(tags=["postlogin"]) if m.id == "postlogin.E003"]


def test_a_listed_kind_that_is_not_registered_is_an_error(settings: Any) -> None:
    settings.POSTLOGIN = {"SIGNUP_JOBS": ["welcome_email", "crm_contact"], "LOGIN_JOBS": ["avtar"]}
    errors = kind_errors()
    assert [error.msg.split(",")[0] for error in errors] == [
        "POSTLOGIN['SIGNUP_JOBS'] lists the job kind 'crm_contact'",
        "POSTLOGIN['LOGIN_JOBS'] lists the job kind 'avtar'",
    ]
    assert "avatar" in errors[1].hint


def test_a_registered_kind_passes(settings: Any) -> None:
    jobs.register("crm_contact_check")(lambda job: None)
    try:
        settings.POSTLOGIN = {"SIGNUP_JOBS": ["crm_contact_check"], "LOGIN_JOBS": ["avatar"]}
        assert kind_errors() == []
    finally:
        jobs.unregister("crm_contact_check")


def test_invalid_settings_are_left_to_e002(settings: Any) -> None:
    settings.POSTLOGIN = {"SIGNUP_JOBS": ["crm_contact"], "NO_SUCH_KEY": 1}
    assert kind_errors() == []
