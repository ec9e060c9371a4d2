"""Profile re-sync for allauth accounts, with the tokens allauth stored: against the local
OpenID Connect provider over HTTP, and against Google and GitHub as they document their APIs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from postlogin import runner
from postlogin.kinds import profile_sync
from postlogin.models import Job, Profile

from ..devidp_server import expire_access_tokens, revoke
from ..payloads import GITHUB_EMAILS, GITHUB_USER
from ..resync_steps import make_stale, run_sync
from .flow import GOOGLE_TOKEN_URL, allauth_login, mock_github, mock_google
from .test_local_provider import sign_in

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]

GOOGLE_USERINFO_V2 = "https://www.googleapis.com/oauth2/v2/userinfo"


def stored_token(user: Any) -> Any:
    from allauth.socialaccount.models import SocialToken

    return SocialToken.objects.get(account__user=user)


def test_resync_at_the_local_provider_stored_then_refreshed_then_revoked(
    devidp: str,
    local_idp_dir: Path,
    client: Client,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert sign_in(client, "grace")["Location"] == "/done/"
    user = get_user_model().objects.get(username="grace")
    token = stored_token(user)
    assert token.token_secret, "allauth stored the refresh token"
    Job.objects.filter(kind="avatar").delete()
    Profile.objects.filter(user=user).update(avatar_source_url="https://old.example/grace.png")
    memory_broker()

    [due] = profile_sync.stale_accounts(10)
    assert (due.source, due.provider, due.user_id) == ("allauth", "oidc", user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        job = run_sync()
    assert job.state == "done", job.last_error
    assert job.provider == "oidc"
    profile = Profile.objects.get(user=user)
    assert (profile.synced_name, profile.synced_email) == ("Grace Hopper", "grace@example.com")
    avatar = Job.objects.get(kind="avatar", user=user)
    assert avatar.payload["url"] == devidp.removesuffix("/o") + "/avatars/grace.png"
    assert ("postlogin.run_job", (avatar.pk,)) in memory_broker()

    # Refused by the provider (expired there): refreshed with the refresh token, then asked again.
    old = token.token
    expire_access_tokens(local_idp_dir)
    make_stale(user)
    assert run_sync().state == "done"
    token.refresh_from_db()
    assert token.token != old
    assert token.expires_at > timezone.now()

    # Known to have expired: refreshed before it is even tried (the old one still works there).
    old = token.token
    type(token).objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    make_stale(user)
    assert run_sync().state == "done"
    token.refresh_from_db()
    assert token.token != old

    # Revoked: the profile needs a fresh login; nothing retries for ever.
    revoke(devidp, token.token, "access_token")
    revoke(devidp, token.token_secret, "refresh_token")
    make_stale(user)
    job = run_sync()
    assert (job.state, job.attempts) == ("done", 1)
    assert Profile.objects.get(user=user).needs_login is True
    assert profile_sync.stale_accounts(10) == [], "not scheduled again until the user logs in"

    assert sign_in(Client(), "grace")["Location"] == "/done/"
    assert Profile.objects.get(user=user).needs_login is False


@responses.activate
def test_google_userinfo_is_asked_and_a_refused_token_refreshed_once(
    client: Client, memory_broker: Any
) -> None:
    mock_google(responses.mock)
    allauth_login(client, "google")
    user = get_user_model().objects.get()
    token = stored_token(user)
    token.token_secret = "1//google-refresh-token"  # an "offline" grant
    token.save()
    userinfo = {
        "id": "110169484474386276334",
        "email": "ada@example.com",
        "verified_email": True,
        "name": "Ada King",
        "picture": "https://lh3.googleusercontent.com/a/new-picture=s96-c",
    }
    refused = responses.get(GOOGLE_USERINFO_V2, status=401, json={"error": "invalid_token"})
    answered = responses.get(GOOGLE_USERINFO_V2, json=userinfo)
    refreshed = responses.post(
        GOOGLE_TOKEN_URL, json={"access_token": "ya29.fresh", "expires_in": 3599}
    )

    job = run_sync()
    assert job.state == "done", job.last_error
    assert (refused.call_count, answered.call_count) == (1, 1)
    assert answered.calls[0].request.headers["Authorization"] == "Bearer ya29.fresh"
    [refresh] = [call for call in refreshed.calls if "refresh_token" in str(call.request.body)]
    assert "grant_type=refresh_token" in str(refresh.request.body)
    assert "client_id=google-client-id" in str(refresh.request.body)
    token.refresh_from_db()
    assert (token.token, token.token_secret) == ("ya29.fresh", "1//google-refresh-token")
    profile = Profile.objects.get(user=user)
    assert (profile.synced_name, profile.synced_email) == ("Ada King", "ada@example.com")
    assert Job.objects.get(kind="avatar", payload__url=userinfo["picture"]).provider == "google"


@responses.activate
def test_github_is_asked_with_the_stored_token(client: Client, memory_broker: Any) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    responses.replace(responses.GET, "https://api.github.com/user", json=GITHUB_USER)
    job = run_sync()
    assert job.state == "done", job.last_error
    assert job.provider == "github"
    profile = Profile.objects.get(user=user)
    assert (profile.synced_name, profile.synced_email) == ("The Octocat", "octocat@github.com")
    headers = responses.calls[-2].request.headers
    assert headers["Authorization"] == f"token {stored_token(user).token}"
    assert {call.request.url for call in responses.calls[-2:]} == {
        "https://api.github.com/user",
        "https://api.github.com/user/emails",
    }
    assert GITHUB_EMAILS[0]["email"] == profile.synced_email


@responses.activate
def test_a_rate_limited_answer_waits_as_told_and_a_refusal_without_refresh_token_ends(
    client: Client, memory_broker: Any
) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    responses.replace(
        responses.GET, "https://api.github.com/user", status=429, headers={"Retry-After": "42"}
    )
    [job_id] = profile_sync.schedule_stale()
    outcome = runner.run(job_id)
    assert (outcome.state, outcome.countdown) == ("retry", 42)

    responses.replace(responses.GET, "https://api.github.com/user", status=401)
    assert runner.run(job_id).state == "done"
    assert Profile.objects.get(user=user).needs_login is True


@responses.activate
def test_an_expired_token_without_refresh_token_needs_a_login(
    client: Client, memory_broker: Any
) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    type(stored_token(user)).objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    calls = len(responses.calls)
    assert run_sync().state == "done"
    assert Profile.objects.get(user=user).needs_login is True
    assert len(responses.calls) == calls, "no call with a token known to be dead"


@responses.activate
def test_an_answer_for_another_account_is_not_stored(client: Client, memory_broker: Any) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    responses.replace(
        responses.GET, "https://api.github.com/user", json={**GITHUB_USER, "id": 1, "name": "X"}
    )
    job = run_sync()
    assert job.state == "failed"
    assert "answered for account '1'" in job.last_error
    assert not Profile.objects.filter(user=user, synced_at__isnull=False).exists()


def test_accounts_without_a_stored_token_are_not_picked(user: Any) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    SocialAccount.objects.create(user=user, provider="github", uid="1")
    assert profile_sync.stale_accounts(10) == []
    SocialToken.objects.create(account=SocialAccount.objects.get(), token="gho_x")
    [due] = profile_sync.stale_accounts(10)
    assert (due.source, due.provider) == ("allauth", "github")


@responses.activate
def test_a_passing_failure_is_retried_and_a_token_refused_after_a_refresh_ends(
    client: Client, memory_broker: Any
) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    [job_id] = profile_sync.schedule_stale()
    responses.replace(responses.GET, "https://api.github.com/user", status=503)
    outcome = runner.run(job_id)
    assert outcome.state == "retry"
    assert Job.objects.get(pk=job_id).last_error.startswith("HTTPError: 503")

    # Refused, refreshed, refused again: the grant itself is gone.
    token = stored_token(user)
    token.token_secret = "ghr_refresh"
    token.save()
    responses.replace(responses.GET, "https://api.github.com/user", status=401)
    responses.replace(
        responses.POST,
        "https://github.com/login/oauth/access_token",
        json={"access_token": "gho_new", "refresh_token": "ghr_new", "expires_in": 28800},
    )
    assert runner.run(job_id).state == "done"
    token.refresh_from_db()
    assert (token.token, token.token_secret) == ("gho_new", "ghr_new")
    assert Profile.objects.get(user=user).needs_login is True


@responses.activate
def test_a_refresh_the_token_endpoint_refuses_needs_a_login(
    client: Client, memory_broker: Any
) -> None:
    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")
    token = stored_token(user)
    token.token_secret = "ghr_revoked"
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()
    responses.replace(
        responses.POST,
        "https://github.com/login/oauth/access_token",
        status=400,
        json={"error": "invalid_grant"},
    )
    assert run_sync().state == "done"
    assert Profile.objects.get(user=user).needs_login is True
    token.refresh_from_db()
    assert token.token_secret == "ghr_revoked"


@responses.activate
def test_jobs_for_an_account_or_app_that_is_gone_fail_at_once(
    client: Client, memory_broker: Any, settings: Any
) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    mock_github(responses.mock)
    allauth_login(client, "github")
    user = get_user_model().objects.get(username="octocat")

    [job_id] = profile_sync.schedule_stale()
    SocialToken.objects.all().delete()
    runner.run(job_id)
    assert Profile.objects.get(user=user).needs_login is True, "no token: only a login helps"

    Profile.objects.filter(user=user).update(tokens_refused_at=None)
    make_stale(user)
    SocialToken.objects.create(account=SocialAccount.objects.get(), token="gho_x")
    [job_id] = profile_sync.schedule_stale()
    settings.SOCIALACCOUNT_PROVIDERS = {
        name: conf for name, conf in settings.SOCIALACCOUNT_PROVIDERS.items() if name != "github"
    }
    runner.run(job_id)
    job = Job.objects.get(pk=job_id)
    assert (job.state, job.attempts) == ("failed", 1)
    assert "no allauth app for 'github'" in job.last_error

    make_stale(user)
    [job_id] = profile_sync.schedule_stale()
    SocialAccount.objects.all().delete()
    runner.run(job_id)
    assert "no longer exists" in Job.objects.get(pk=job_id).last_error


@pytest.mark.parametrize("expires_in", ["\u00b2", "1_0", 10**20, -5, True])
@responses.activate
def test_a_refresh_with_an_unusable_expires_in_stores_no_expiry(
    client: Client, memory_broker: Any, expires_in: Any
) -> None:
    # allauth's parse_token takes int() of it: "²" raised ValueError, 10**20 OverflowError.
    mock_google(responses.mock)
    allauth_login(client, "google")
    user = get_user_model().objects.get()
    token = stored_token(user)
    token.token_secret = "1//google-refresh-token"
    token.expires_at = timezone.now() - timedelta(minutes=1)  # refreshed before it is used
    token.save()
    responses.post(GOOGLE_TOKEN_URL, json={"access_token": "ya29.fresh", "expires_in": expires_in})
    responses.get(GOOGLE_USERINFO_V2, json={"id": "110169484474386276334", "name": "Ada"})

    job = run_sync()
    assert job.state == "done", job.last_error
    token.refresh_from_db()
    assert (token.token, token.expires_at) == ("ya29.fresh", None)
