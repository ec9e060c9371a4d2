"""The social-auth pipeline step, in isolation: Job rows now, messages after commit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail

from postlogin import runner
from postlogin.models import Job
from postlogin.social.pipeline import schedule_post_login_tasks

from .payloads import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_TOKEN, GOOGLE_USERINFO
from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db


def run_step(
    user: Any,
    backend: str,
    response: dict[str, Any],
    is_new: bool,
    id_token: dict[str, Any] | None = None,
) -> None:
    """The step as social-core calls it; ``id_token`` is an OpenID Connect backend's
    validated claims (``backend.id_token``)."""
    schedule_post_login_tasks(
        strategy=SimpleNamespace(),
        details={},
        backend=SimpleNamespace(name=backend, id_token=id_token),
        user=user,
        is_new=is_new,
        response=response,
        uid="uid",
        social=None,
    )


def jobs_of(user: Any) -> dict[str, Job]:
    return {job.kind: job for job in Job.objects.filter(user=user)}


def test_new_user_gets_avatar_and_welcome_email_after_commit(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_step(user, "google-oauth2", {**GOOGLE_TOKEN, **GOOGLE_USERINFO}, is_new=True)
        assert memory_broker() == [], "nothing may be published before the commit"
        # Recorded as queued already: their messages go out right after the commit.
        assert {job.state for job in jobs_of(user).values()} == {"queued"}
    assert len(callbacks) == 1
    jobs = jobs_of(user)
    assert sorted(jobs) == ["avatar", "welcome_email"]
    assert jobs["avatar"].payload == {"url": GOOGLE_USERINFO["picture"]}
    assert jobs["avatar"].provider == "google"
    assert jobs["welcome_email"].key == "once"
    assert jobs["welcome_email"].payload == {"verified_email": GOOGLE_USERINFO["email"]}
    assert sorted(memory_broker()) == sorted(
        ("postlogin.run_job", (job.pk,)) for job in jobs.values()
    )
    assert {job.state for job in Job.objects.filter(user=user)} == {"queued"}


def test_returning_user_gets_avatar_only(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "github", {**GITHUB_TOKEN, **GITHUB_USER, "emails": GITHUB_EMAILS}, False)
    jobs = jobs_of(user)
    assert list(jobs) == ["avatar"]
    assert jobs["avatar"].payload == {"url": GITHUB_USER["avatar_url"]}
    assert memory_broker() == [("postlogin.run_job", (jobs["avatar"].pk,))]


def test_repeat_logins_do_not_duplicate_jobs_and_a_new_picture_does(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=True)
    assert Job.objects.filter(user=user).count() == 2
    assert len(memory_broker()) == 2, "queued jobs are not published again"
    new_picture = {**GOOGLE_USERINFO, "picture": "https://lh3.googleusercontent.com/a/new"}
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", new_picture, is_new=False)
    avatars = Job.objects.filter(user=user, kind="avatar")
    assert sorted(job.payload["url"] for job in avatars) == sorted(
        [str(GOOGLE_USERINFO["picture"]), str(new_picture["picture"])]
    )


def test_only_job_ids_cross_the_broker(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", {**GOOGLE_TOKEN, **GOOGLE_USERINFO}, is_new=True)
    sent = memory_broker()
    assert sent
    assert all(len(args) == 1 and isinstance(args[0], int) for _name, args in sent)
    for job in Job.objects.all():
        assert "token" not in str(job.payload).lower()


def test_no_picture_means_no_avatar_job(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = {k: v for k, v in GOOGLE_USERINFO.items() if k != "picture"}
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", response, is_new=False)
    assert memory_broker() == []
    assert not Job.objects.exists()


def test_step_continues_the_pipeline_and_ignores_missing_user(memory_broker: Any) -> None:
    result = schedule_post_login_tasks(  # type: ignore[func-returns-value]
        strategy=None, details={}, backend=SimpleNamespace(name="github"), user=None
    )
    assert result is None
    assert memory_broker() == []


def test_job_lists_come_from_settings(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.POSTLOGIN = {
        **TEST_POSTLOGIN,
        "LOGIN_JOBS": [],
        "SIGNUP_JOBS": ["welcome_email", "avatar"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=False)
    assert memory_broker() == []
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=True)
    assert sorted(jobs_of(user)) == ["avatar", "welcome_email"]


def test_unknown_kind_in_settings_is_logged_not_raised(
    user: Any,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "LOGIN_JOBS": ["no_such_kind", "avatar"]}
    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "google-oauth2", GOOGLE_USERINFO, is_new=False)
    assert list(jobs_of(user)) == ["avatar"]
    assert "no job kind 'no_such_kind' is registered" in caplog.text


def test_a_microsoft_login_plans_the_graph_photo_without_its_token(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from .payloads.microsoft import GRAPH_ME, GRAPH_TOKEN

    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "microsoft-graph", {**GRAPH_TOKEN, **GRAPH_ME}, is_new=False)
    jobs = jobs_of(user)
    assert list(jobs) == ["avatar"]
    assert (jobs["avatar"].provider, jobs["avatar"].payload) == (
        "microsoft",
        {"source": "microsoft-graph"},
    )
    assert str(GRAPH_TOKEN["access_token"]) not in str(jobs["avatar"].payload)
    assert memory_broker() == [("postlogin.run_job", (jobs["avatar"].pk,))]


def test_a_signup_with_an_unverified_address_records_no_address_to_welcome(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from .payloads.microsoft import GRAPH_ME, GRAPH_TOKEN

    with django_capture_on_commit_callbacks(execute=True):
        # Microsoft's "mail" is whatever a tenant's administrator typed: never verified.
        run_step(user, "microsoft-graph", {**GRAPH_TOKEN, **GRAPH_ME}, is_new=True)
    welcome = jobs_of(user)["welcome_email"]
    assert welcome.payload == {}
    runner.run(welcome.pk)
    welcome.refresh_from_db()
    assert welcome.state == "done"
    assert mail.outbox == [], "Microsoft's mail names whoever the tenant's admin typed"


def test_an_apple_login_plans_no_avatar(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from .payloads.apple import APPLE_ID_TOKEN_CLAIMS

    with django_capture_on_commit_callbacks(execute=True):
        run_step(user, "apple-id", APPLE_ID_TOKEN_CLAIMS, is_new=False)
    assert not Job.objects.filter(user=user).exists()


def test_an_openid_connect_login_reads_the_validated_id_token_claims(
    user: Any, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Twitch through social-core: userinfo says only "sub"; the email is in the ID token.
    from .payloads.twitch import TWITCH_ID_TOKEN_CLAIMS, TWITCH_TOKEN, TWITCH_USERINFO

    with django_capture_on_commit_callbacks(execute=True):
        run_step(
            user,
            "oidc",
            {**TWITCH_TOKEN, **TWITCH_USERINFO},
            is_new=True,
            id_token=TWITCH_ID_TOKEN_CLAIMS,
        )
    welcome = jobs_of(user)["welcome_email"]
    assert welcome.payload == {"verified_email": TWITCH_ID_TOKEN_CLAIMS["email"]}
    assert str(TWITCH_TOKEN["id_token"]) not in str(welcome.payload)
