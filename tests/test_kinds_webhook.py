"""The webhook kind's delivery outcomes, run through the real runner (postlogin.testing): an
endpoint the address guard refuses fails after one attempt, with no connection; statuses follow
the one retried list (postlogin.http.RETRIED_STATUSES)."""

from __future__ import annotations

from typing import Any

import pytest

from postlogin.events import LoginEvent, ProviderProfile
from postlogin.http import RETRIED_STATUSES
from postlogin.models import Job
from postlogin.testing import Reply, canned_responses, record_login, run_job

from .network import connect_spy, stub_resolver

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK = "https://hooks.example.com/postlogin"


def webhook_job(user: Any, settings: Any, url: str = HOOK) -> Job:
    settings.POSTLOGIN = {
        **settings.POSTLOGIN,
        "LOGIN_JOBS": [],
        "SIGNUP_JOBS": [],
        "RETRY_BACKOFF": 1,
        "WEBHOOKS": [{"name": "crm", "url": url, "secret": SECRET}],
    }
    profile = ProviderProfile(uid="1", email="ada@example.com", email_verified=True)
    event = LoginEvent(user_id=user.pk, provider="google", is_new=False, profile=profile)
    (job,) = record_login(event)
    return job


def test_a_webhook_to_a_refused_address_fails_after_one_attempt_without_connecting(
    user: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = webhook_job(user, settings, url="https://internal.test/hook")
    stub_resolver(monkeypatch, {"internal.test": ["10.1.2.3"]})
    spy = connect_spy(monkeypatch)
    result = run_job(job)
    result.assert_failed(attempts=1, error_code="fetch_refused")
    assert "10.1.2.3" in result.last_error
    assert spy.attempts == []


@pytest.mark.parametrize("status", sorted(RETRIED_STATUSES))
def test_every_retried_status_is_retried_until_the_receiver_takes_it(
    user: Any, settings: Any, status: int
) -> None:
    job = webhook_job(user, settings)
    with canned_responses({HOOK: [Reply(status, headers={"Retry-After": "7"}), Reply(204)]}):
        result = run_job(job)
    result.assert_done(attempts=2)
    assert result.countdowns == [7.0]
    assert len({call.headers["webhook-id"] for call in result.calls}) == 1


@pytest.mark.parametrize("status", [400, 404, 410, 422, 501, 505, 302])
def test_any_other_status_fails_at_once(user: Any, settings: Any, status: int) -> None:
    job = webhook_job(user, settings)
    with canned_responses({HOOK: Reply(status)}):
        result = run_job(job)
    result.assert_failed(attempts=1)
    assert f"HTTP {status} from webhook crm" in result.last_error
