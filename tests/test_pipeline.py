"""The social-auth pipeline step, in isolation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from postlogin.pipeline import schedule_post_login_tasks

from .payloads import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_TOKEN, GOOGLE_USERINFO

pytestmark = pytest.mark.django_db


def run_step(user: Any, backend: str, response: dict[str, Any], is_new: bool) -> None:
    schedule_post_login_tasks(
        strategy=SimpleNamespace(),
        details={},
        backend=SimpleNamespace(name=backend),
        user=user,
        is_new=is_new,
        response=response,
        uid="uid",
        social=None,
    )


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("ada", "ada@example.com")


def test_new_user_gets_avatar_and_welcome_email_after_commit(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_step(user, "google-oauth2", {**GOOGLE_TOKEN, **GOOGLE_USERINFO}, is_new=True)
        assert memory_broker() == [], "nothing may be published before the commit"
    assert len(callbacks) == 2
    assert sorted(memory_broker()) == [
        ("postlogin.fetch_avatar", (user.pk, GOOGLE_USERINFO["picture"])),
        ("postlogin.send_welcome_email", (user.pk,)),
    ]


def test_returning_user_gets_avatar_only(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "github", {**GITHUB_TOKEN, **GITHUB_USER, "emails": GITHUB_EMAILS}, False)
    assert memory_broker() == [
        ("postlogin.fetch_avatar", (user.pk, GITHUB_USER["avatar_url"])),
    ]


def test_only_ids_and_strings_cross_the_broker(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", {**GOOGLE_TOKEN, **GOOGLE_USERINFO}, is_new=True)
    sent = memory_broker()
    flat: list[Any] = [value for _name, args in sent for value in args]
    assert all(isinstance(value, int | str) for value in flat)
    assert not any(str(GOOGLE_TOKEN["access_token"]) in str(value) for value in flat)


def test_no_picture_means_no_avatar_job(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = {k: v for k, v in GOOGLE_USERINFO.items() if k != "picture"}
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", response, is_new=False)
    assert memory_broker() == []


def test_step_continues_the_pipeline_and_ignores_missing_user(memory_broker: Any) -> None:
    result = schedule_post_login_tasks(  # type: ignore[func-returns-value]
        strategy=None, details={}, backend=SimpleNamespace(name="github"), user=None
    )
    assert result is None
    assert memory_broker() == []


def test_job_lists_come_from_settings(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.POSTLOGIN = {"LOGIN_JOBS": [], "SIGNUP_JOBS": ["welcome_email", "avatar"]}
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=False)
    assert memory_broker() == []
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=True)
    assert sorted(name for name, _ in memory_broker()) == [
        "postlogin.fetch_avatar",
        "postlogin.send_welcome_email",
    ]
