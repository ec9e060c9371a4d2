"""No secret in any recorded or logged error, and no infrastructure detail shown to users: each
place that builds error text, run for real (loopback servers, a stubbed resolver and a connect
spy: nothing leaves the machine)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from django.test import Client
from social_django.models import UserSocialAuth

from postlogin import jobs, runner
from postlogin.kinds.webhook import plan_webhooks
from postlogin.models import Job, Profile
from postlogin.signals import job_failed

from .helpers import black_hole
from .network import connect_spy, stub_resolver
from .resync_steps import run_sync
from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db

GITLAB_TOKEN = "glpat-Zx81kQp2LmN4vB7sT0aY"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every postlogin log line, INFO and up, tracebacks included."""
    caplog.set_level(logging.INFO, logger="postlogin")
    return caplog


def run(job: Job) -> Job:
    runner.run(job.pk)
    job.refresh_from_db()
    return job


def seen_by_user(client: Client, user: Any) -> str:
    client.force_login(user)
    response = client.get("/postlogin/jobs/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def gitlab_account(user: Any, settings: Any) -> UserSocialAuth:
    """The user as social-auth's GitLab backend leaves them after a login."""
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "social_core.backends.gitlab.GitLabOAuth2",
    ]
    settings.SOCIAL_AUTH_GITLAB_KEY = "gitlab-client-id"
    settings.SOCIAL_AUTH_GITLAB_SECRET = "gitlab-client-secret"
    return UserSocialAuth.objects.create(
        user=user,
        provider="gitlab",
        uid="42",
        extra_data={"access_token": GITLAB_TOKEN, "token_type": "Bearer"},
    )


@pytest.fixture
def gitlab_profile_kind(gitlab_account: UserSocialAuth, settings: Any) -> Iterator[int]:
    """A project's own kind that asks GitLab's API with the user's stored token, as GitLab
    takes it: in the query string. GitLab is a loopback port that never accepts."""

    def handler(job: Job) -> None:
        social = UserSocialAuth.objects.get(user_id=job.user_id, provider="gitlab")
        requests.get(
            f"http://127.0.0.1:{port}/api/v4/user",
            params={"access_token": social.extra_data["access_token"]},
            timeout=0.3,
        )

    settings.POSTLOGIN = {**TEST_POSTLOGIN, "MAX_RETRIES": 0}
    jobs.register("gitlab_profile", plan=jobs.once)(handler)
    with black_hole() as port:
        yield port
    jobs.unregister("gitlab_profile")


def test_a_token_in_a_failing_url_reaches_no_error_log_signal_or_user(
    gitlab_profile_kind: int, make_job: Any, user: Any, logs: Any, client: Client
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    job_failed.connect(receiver)
    try:
        job = run(make_job(kind="gitlab_profile"))
    finally:
        job_failed.disconnect(receiver)
    assert job.state == "failed"
    assert job.last_error.startswith("ConnectTimeout: HTTPConnectionPool(host='127.0.0.1'")
    assert GITLAB_TOKEN not in job.last_error
    assert "/api/v4/user?[redacted]" in job.last_error, "staff still see what was asked"
    assert job.error_code == "timeout"
    [failed] = [r for r in logs.records if getattr(r, "postlogin", {}).get("event") == "failed"]
    assert failed.postlogin["error_code"] == "timeout"
    assert failed.postlogin["error"] == job.last_error
    assert GITLAB_TOKEN not in logs.text
    [signal] = received
    assert (signal["error_code"], signal["error_text"]) == ("timeout", job.last_error)
    page = seen_by_user(client, user)
    assert GITLAB_TOKEN not in page
    assert '"error_code": "timeout"' in page
    assert "127.0.0.1" not in page


def test_an_internal_avatar_host_is_named_to_staff_only(
    monkeypatch: pytest.MonkeyPatch, settings: Any, make_job: Any, user: Any, admin_client: Client
) -> None:
    settings.POSTLOGIN = {}  # production defaults: only public addresses
    stub_resolver(monkeypatch, {"hr-db.corp.internal": ["10.20.30.40"]})
    spy = connect_spy(monkeypatch)
    job = run(make_job(payload={"url": "https://hr-db.corp.internal/photo.png"}))
    assert spy.attempts == []
    assert job.state == "failed"
    assert "hr-db.corp.internal (10.20.30.40)" in job.last_error

    body = Client()
    page = seen_by_user(body, user)
    assert "hr-db" not in page
    assert "10.20.30.40" not in page
    assert job.error_code == "fetch_refused"
    [shown] = body.get("/postlogin/jobs/").json()["jobs"]
    assert shown["error_code"] == "fetch_refused"
    assert shown["error_message"] == "The address given for it cannot be used."
    assert "last_error" not in shown

    change = admin_client.get(f"/admin/postlogin/job/{job.pk}/change/")
    assert "hr-db.corp.internal (10.20.30.40)" in change.content.decode()
    listing = admin_client.get("/admin/postlogin/job/?error_code=fetch_refused")
    assert f"/admin/postlogin/job/{job.pk}/change/" in listing.content.decode()


def test_a_refused_picture_url_is_recorded_without_its_query_string(
    monkeypatch: pytest.MonkeyPatch, make_job: Any
) -> None:
    spy = connect_spy(monkeypatch)
    url = "https://cdn.example.com:99999/a.png?access_token=opaque-avatar-token&oh=5f2a"
    job = run(make_job(payload={"url": url}))
    assert spy.attempts == []
    assert job.state == "failed"
    assert "opaque-avatar-token" not in job.last_error
    assert "'https://cdn.example.com:99999/a.png?[redacted]'" in job.last_error
    assert job.error_code == "fetch_refused"


def test_a_webhook_endpoint_key_in_its_url_stays_out_of_the_error(
    settings: Any, make_job: Any, user: Any, logs: Any, client: Client
) -> None:
    from postlogin.events import LoginEvent, ProviderProfile

    with black_hole() as port:
        settings.POSTLOGIN = {
            **TEST_POSTLOGIN,
            "HTTP_TIMEOUT": (0.3, 0.3),
            "WEBHOOKS": [
                {
                    "name": "crm",
                    "url": f"http://127.0.0.1:{port}/hooks/login?api_key=opaque-crm-key",
                    "secret": "whsec_" + "Y3JtLXJlY2VpdmVyLXNlY3JldC1vZi0zMi1ieXRlcyE=",
                }
            ],
        }
        event = LoginEvent(user.pk, "github", False, ProviderProfile(uid="1"))
        [spec] = plan_webhooks(event)
        job = run(make_job(kind="webhook", key=spec.key, payload=spec.payload))
    assert job.state == "queued", "a timeout is retried"
    assert "opaque-crm-key" not in job.last_error + logs.text
    assert "opaque-crm-key" not in seen_by_user(client, user)
    assert "/hooks/login?[redacted]" in job.last_error
    assert job.error_code == "timeout"


def test_social_auth_resync_errors_carry_no_token(
    gitlab_account: UserSocialAuth, settings: Any, user: Any, logs: Any, client: Client
) -> None:
    settings.SOCIAL_AUTH_REQUESTS_TIMEOUT = 0.3
    with black_hole() as port:
        settings.SOCIAL_AUTH_GITLAB_API_URL = f"http://127.0.0.1:{port}"
        job = run_sync()
    assert job.state == "queued", "GitLab not answering is retried"
    assert GITLAB_TOKEN not in job.last_error + logs.text + seen_by_user(client, user)
    assert job.error_code == "timeout"


@responses.activate
def test_a_token_social_auth_sees_refused_is_logged_without_it(
    gitlab_account: UserSocialAuth, user: Any, logs: Any
) -> None:
    responses.get(
        "https://gitlab.com/api/v4/user",
        status=401,
        json={"error": "invalid_token", "error_description": f"Token {GITLAB_TOKEN} was revoked"},
    )
    job = run_sync()
    assert job.state == "done"
    assert Profile.objects.get(user=user).needs_login is True
    assert "gitlab refused the stored tokens of user" in logs.text
    assert GITLAB_TOKEN not in logs.text
