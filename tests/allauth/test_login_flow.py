"""Full django-allauth round trips through the real views: begin POST, provider callback."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from postlogin.models import Job

from ..payloads import GITHUB_USER, GOOGLE_USERINFO
from .flow import allauth_login, mock_github, mock_google

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]

PICTURE = GOOGLE_USERINFO["picture"]


def jobs_of(user: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (job.kind, job.provider, job.payload)
        for job in Job.objects.filter(user=user).order_by("kind", "pk")
    ]


@responses.activate
def test_google_signup_then_returning_login(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_google(responses.mock)
    with django_capture_on_commit_callbacks() as callbacks:
        response = allauth_login(client, "google")
        assert memory_broker() == [], "published before the login transaction committed"
    for callback in callbacks:
        callback()
    assert response.status_code == 302
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert client.get("/done/").content == f"logged in as {user.username}".encode()
    assert jobs_of(user) == [
        ("avatar", "google", {"url": PICTURE}),
        ("welcome_email", "google", {"verified_email": "ada@example.com"}),
    ]
    jobs = Job.objects.filter(user=user)
    assert sorted(memory_broker()) == sorted(("postlogin.run_job", (job.pk,)) for job in jobs)

    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        response = allauth_login(client, "google")
    assert response["Location"] == "/done/"
    assert get_user_model().objects.count() == 1
    assert Job.objects.filter(user=user).count() == 2, "the same picture is the same job"
    assert memory_broker() == []


@responses.activate
def test_repeat_logins_do_not_duplicate_jobs_and_a_new_picture_does(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_google(responses.mock)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            allauth_login(client, "google")
        client.logout()
    user = get_user_model().objects.get()
    assert Job.objects.filter(user=user).count() == 2
    assert len(memory_broker()) == 2, "queued jobs are not published again"

    responses.mock.reset()
    mock_google(responses.mock, picture="https://lh3.googleusercontent.com/a/new-picture")
    with django_capture_on_commit_callbacks(execute=True):
        allauth_login(client, "google")
    avatars = Job.objects.filter(user=user, kind="avatar").order_by("pk")
    assert [job.payload["url"] for job in avatars] == [
        PICTURE,
        "https://lh3.googleusercontent.com/a/new-picture",
    ]
    assert memory_broker() == [("postlogin.run_job", (avatars[1].pk,))]


@responses.activate
def test_github_signup(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_github(responses.mock)
    with django_capture_on_commit_callbacks(execute=True):
        response = allauth_login(client, "github")
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(username="octocat")
    assert user.email == "octocat@github.com"
    assert jobs_of(user) == [
        ("avatar", "github", {"url": GITHUB_USER["avatar_url"]}),
        ("welcome_email", "github", {"verified_email": "octocat@github.com"}),
    ]
    assert len(memory_broker()) == 2


@responses.activate
def test_an_account_from_before_postlogin_gets_no_welcome_email(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from allauth.socialaccount.models import SocialAccount
    from django.utils import timezone

    user = get_user_model().objects.create_user("ada", "ada@example.com", last_login=timezone.now())
    SocialAccount.objects.create(user=user, provider="google", uid=GOOGLE_USERINFO["sub"])
    mock_google(responses.mock)
    with django_capture_on_commit_callbacks(execute=True):
        response = allauth_login(client, "google")
    assert response["Location"] == "/done/"
    assert jobs_of(user) == [("avatar", "google", {"url": PICTURE})]


def confirm_email(client: Client) -> None:
    """Open the verification link allauth emailed, and confirm."""
    (message,) = [m for m in mail.outbox if "confirm-email" in m.body]
    link = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", str(message.body))
    assert link, message.body
    assert client.post(link.group(1)).status_code == 302


@pytest.mark.parametrize("login_on_confirmation", [True, False])
@responses.activate
def test_a_signup_waiting_for_email_verification_gets_its_jobs_when_it_logs_in(
    client: Client,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    login_on_confirmation: bool,
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = login_on_confirmation
    mock_google(responses.mock, email_verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = allauth_login(client, "google")
    assert response["Location"] == "/accounts/confirm-email/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert not Job.objects.exists(), "no jobs before the login happened"
    assert memory_broker() == []

    with django_capture_on_commit_callbacks(execute=True):
        if login_on_confirmation:
            # The same browser: allauth resumes the waiting login.
            confirm_email(client)
        else:
            # Confirmed elsewhere, then signed in again: the account's first login.
            confirm_email(Client())
            response = allauth_login(client, "google")
            assert response["Location"] == "/done/"
    assert client.get("/done/").content == b"logged in as ada"
    # Google did not verify the address, allauth did (the link was followed): it is welcomed.
    assert jobs_of(user) == [
        ("avatar", "google", {"url": PICTURE}),
        ("welcome_email", "google", {"verified_email": "ada@example.com"}),
    ]
    assert len(memory_broker()) == 2

    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        allauth_login(client, "google")
    assert Job.objects.filter(user=user).count() == 2
