"""Profile re-sync with stored tokens, against the local OpenID Connect provider over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from social_django.models import UserSocialAuth

from postlogin import runner
from postlogin.events import ProviderProfile
from postlogin.kinds import profile_sync
from postlogin.models import Job, Profile

from .devidp_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    devidp,
    expire_access_tokens,
    revoke,
    sign_in_at_idp,
)
from .resync_steps import make_stale, run_sync

CALLBACK = "http://testserver/complete/oidc/"

pytestmark = [pytest.mark.django_db]


@pytest.fixture(scope="module")
def provider_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devidp")


@pytest.fixture(scope="module")
def issuer(provider_dir: Path) -> Iterator[str]:
    with devidp(provider_dir, CALLBACK) as url:
        yield url


@pytest.fixture
def oidc(settings: Any, issuer: str) -> str:
    settings.SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = issuer
    settings.SOCIAL_AUTH_OIDC_KEY = CLIENT_ID
    settings.SOCIAL_AUTH_OIDC_SECRET = CLIENT_SECRET
    settings.SOCIAL_AUTH_OIDC_USE_PKCE = True
    return issuer


def login_at_provider(client: Client, username: str) -> Any:
    """Begin with the app, sign in at the provider over HTTP, complete with the app."""
    begin = client.post("/login/oidc/")
    query = sign_in_at_idp(begin["Location"], username, CALLBACK)
    return client.get("/complete/oidc/", query)


def test_resync_with_a_stored_token_then_a_refreshed_one_then_a_revoked_one(
    oidc: str,
    provider_dir: Path,
    client: Client,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = login_at_provider(client, "grace")
    assert response.status_code == 302, response
    social = UserSocialAuth.objects.get(provider="oidc")
    user = social.user
    assert social.extra_data.get("refresh_token")
    # As if the picture had been fetched from an older URL, before the provider changed it.
    Job.objects.filter(kind="avatar").delete()
    Profile.objects.filter(user=user).update(avatar_source_url="https://old.example/ada.png")
    memory_broker()

    with django_capture_on_commit_callbacks(execute=True):
        job = run_sync()
    assert job.state == "done", job.last_error
    profile = Profile.objects.get(user=user)
    assert (profile.synced_name, profile.synced_email) == ("Grace Hopper", "grace@example.com")
    assert profile.synced_at is not None
    avatar = Job.objects.get(kind="avatar", user=user)
    assert avatar.payload["url"].endswith("/avatars/grace.png"), "a new picture URL: a new job"
    assert ("postlogin.run_job", (avatar.pk,)) in memory_broker()
    make_stale(user)
    run_sync()
    assert Job.objects.filter(kind="avatar").count() == 1, "the same URL is the same job"

    # An access token the provider no longer accepts is refreshed with the refresh token.
    old_token = social.extra_data["access_token"]
    expire_access_tokens(provider_dir)
    make_stale(user)
    assert run_sync().state == "done"
    social.refresh_from_db()
    assert social.extra_data["access_token"] != old_token
    assert Profile.objects.get(user=user).needs_login is False

    # One known to have expired is refreshed before it is even tried.
    old_token = social.extra_data["access_token"]
    social.extra_data.update(expires=3600, auth_time=int(time.time()) - 2 * 3600)
    social.save()
    make_stale(user)
    assert run_sync().state == "done"
    social.refresh_from_db()
    assert social.extra_data["access_token"] != old_token

    # Revoked at the provider: the profile needs a fresh login; nothing retries for ever.
    for kind in ("access_token", "refresh_token"):
        revoke(oidc, social.extra_data[kind], kind)
    make_stale(user)
    job = run_sync()
    assert (job.state, job.attempts) == ("done", 1)
    assert Profile.objects.get(user=user).needs_login is True
    assert profile_sync.stale_accounts(10) == [], "not scheduled again until the user logs in"

    login_at_provider(Client(), "grace")
    assert Profile.objects.get(user=user).needs_login is False


def test_only_due_accounts_are_picked_in_bounded_batches(
    django_user_model: Any, memory_broker: Any
) -> None:
    for n in range(5):
        user = django_user_model.objects.create_user(f"u{n}")
        UserSocialAuth.objects.create(user=user, provider="oidc", uid=f"sub{n}")
    fresh = django_user_model.objects.get(username="u0")
    Profile.objects.create(user=fresh, synced_at=timezone.now())
    older = django_user_model.objects.get(username="u1")
    Profile.objects.create(user=older, synced_at=timezone.now() - timedelta(days=3))
    assert len(profile_sync.stale_accounts(limit=3)) == 3
    due = profile_sync.stale_accounts(limit=10)
    assert fresh.pk not in {account.user_id for account in due}
    assert len(due) == 4
    assert due[-1].user_id == older.pk, "never synced first, then the oldest sync"
    assert {(account.source, account.provider) for account in due} == {("social_auth", "oidc")}
    first = profile_sync.schedule_stale(limit=10)
    assert len(first) == 4
    assert profile_sync.schedule_stale(limit=10) == [], "an overlapping run records nothing new"
    assert Job.objects.filter(kind="profile_sync").count() == 4
    job = Job.objects.get(kind="profile_sync", user=older)
    social = UserSocialAuth.objects.get(user=older)
    assert job.payload == {"source": "social_auth", "account": social.pk}


def test_an_account_that_cannot_be_synced_waits_its_turn_instead_of_filling_every_batch(
    django_user_model: Any, memory_broker: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, "RESYNC_AFTER": 3600}
    for n in range(3):
        user = django_user_model.objects.create_user(f"u{n}")
        UserSocialAuth.objects.create(user=user, provider="oidc", uid=f"sub{n}")
    [job_id] = profile_sync.schedule_stale(limit=1)
    Job.objects.filter(pk=job_id).update(state="failed")  # e.g. the backend was removed
    [second] = profile_sync.schedule_stale(limit=1)
    [third] = profile_sync.schedule_stale(limit=1)
    assert len({job_id, second, third}) == 3
    assert profile_sync.schedule_stale(limit=1) == []
    # Two hours later (RESYNC_AFTER is one), the failed one is due again, under a new key; the
    # two still waiting in the queue are not recorded twice.
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    [again] = profile_sync.schedule_stale(limit=3)
    assert Job.objects.get(pk=again).user_id == Job.objects.get(pk=job_id).user_id
    assert again != job_id


def test_a_job_for_an_account_that_is_gone_fails_at_once(
    django_user_model: Any, memory_broker: Any
) -> None:
    user = django_user_model.objects.create_user("gone")
    UserSocialAuth.objects.create(user=user, provider="oidc", uid="sub")
    [job_id] = profile_sync.schedule_stale()
    UserSocialAuth.objects.all().delete()
    runner.run(job_id)
    job = Job.objects.get(pk=job_id)
    assert (job.state, job.attempts) == ("failed", 1)
    assert "no longer exists" in job.last_error


def test_every_worker_knows_the_profile_sync_kind_without_importing_it() -> None:
    """A worker that never ran resync_stale still runs the jobs another one recorded."""
    code = (
        "import django; django.setup(); from postlogin import jobs; "
        "print(' '.join(jobs.registered_kinds()))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert {"profile_sync", "webhook", "avatar", "welcome_email"} <= set(out.stdout.split())


def test_without_last_login_refused_accounts_stay_out(
    django_user_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = django_user_model.objects.create_user("u", last_login=timezone.now())
    UserSocialAuth.objects.create(user=user, provider="oidc", uid="sub")
    Profile.objects.create(user=user, tokens_refused_at=timezone.now() - timedelta(days=1))
    assert [account.user_id for account in profile_sync.stale_accounts(10)] == [user.pk], (
        "logged in since the refusal: due again"
    )

    fields = [f for f in django_user_model._meta.concrete_fields if f.name != "last_login"]
    no_last_login = SimpleNamespace(_meta=SimpleNamespace(concrete_fields=fields))
    monkeypatch.setattr(profile_sync, "get_user_model", lambda: no_last_login)
    assert profile_sync.stale_accounts(10) == [], "a later login cannot be told: left out"


@pytest.mark.parametrize(("retry_after", "wait"), [("7", 7.0), ("\u00b2", None), ("soon", None)])
def test_a_rate_limited_user_info_waits_as_told_or_is_retried_with_backoff(
    django_user_model: Any, retry_after: str, wait: float | None
) -> None:
    import responses
    from social_core.exceptions import SocialAuthBaseException

    from postlogin.jobs import RetryLater
    from postlogin.sync_socialauth import SOURCE

    user = django_user_model.objects.create_user("octocat")
    social = UserSocialAuth.objects.create(
        user=user, provider="github", uid="1", extra_data={"access_token": "gho_x"}
    )
    with responses.RequestsMock() as mock:
        mock.get(
            "https://api.github.com/user",
            status=429,
            headers={"Retry-After": retry_after},
            json={"message": "API rate limit exceeded"},
        )
        with pytest.raises((RetryLater, SocialAuthBaseException)) as raised:
            SOURCE.fetch_profile(social.pk)
    if wait is None:
        # Not a number of seconds ("²".isdigit() is True, float("²") raises): backoff decides.
        assert isinstance(raised.value, SocialAuthBaseException)
    else:
        assert isinstance(raised.value, RetryLater)
        assert raised.value.countdown == wait


def test_a_name_or_email_the_provider_leaves_out_keeps_its_last_synced_value(
    django_user_model: Any,
) -> None:
    """An OpenID Connect userinfo that carries only ``sub`` is no reason to blank the profile."""
    user = django_user_model.objects.create_user("quiet")
    Profile.objects.create(user=user, synced_name="Grace Hopper", synced_email="g@example.com")
    job = Job.objects.create(user=user, kind="profile_sync", key="k", provider="oidc")

    profile_sync.apply_profile(job, ProviderProfile(name="", email=""))
    profile = Profile.objects.get(user=user)
    assert (profile.synced_name, profile.synced_email) == ("Grace Hopper", "g@example.com")
    assert profile.synced_at is not None

    profile_sync.apply_profile(job, ProviderProfile(name="Grace B. Hopper", email=""))
    profile.refresh_from_db()
    assert (profile.synced_name, profile.synced_email) == ("Grace B. Hopper", "g@example.com")
