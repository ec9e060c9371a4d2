"""postlogin.testing's job helpers: canned answers served after the address guard, never
instead of it, and jobs run through the real runner with their attempts counted."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from postlogin import http, jobs
from postlogin.events import LoginEvent, ProviderProfile
from postlogin.models import Job
from postlogin.testing import CANNED_ADDRESS, Reply, canned_responses, record_login, run_job

pytestmark = pytest.mark.django_db

API = "https://api.example.com/contacts"


def posting_kind(name: str, url: str = API) -> None:
    @jobs.register(name)
    def handler(job: Job) -> None:
        http.raise_for_outcome(http.post(url, json={"user": job.user_id}))


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("https://internal.example.com/contacts", {"internal.example.com": ["10.1.2.3"]}),
        ("https://metadata.example.com/", {"metadata.example.com": ["169.254.169.254"]}),
        ("https://[fd00::1]/contacts", None),
        ("https://api.example.com@10.0.0.1/contacts", None),
    ],
)
def test_a_refused_address_is_refused_under_canned_responses(
    make_job: Any, kind_name: str, url: str, hosts: dict[str, list[str]] | None
) -> None:
    posting_kind(kind_name, url)
    with canned_responses({url: Reply(200)}, hosts=hosts) as canned:
        result = run_job(make_job(kind=kind_name))
    result.assert_failed(attempts=1, error_code="fetch_refused")
    assert canned.calls == []
    assert result.calls == ()
    assert canned.refused_connections == []


def test_no_socket_reaches_past_loopback_while_canned() -> None:
    with canned_responses({API: Reply(200)}) as canned:
        sock = socket.socket()
        with sock, pytest.raises(ConnectionRefusedError):
            sock.connect((CANNED_ADDRESS, 443))
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("not-canned.example.org", 443)
    assert canned.refused_connections == [CANNED_ADDRESS]


def test_replies_are_served_in_order_and_the_runner_counts_attempts(
    make_job: Any, kind_name: str, settings: Any
) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, "RETRY_BACKOFF": 1}
    posting_kind(kind_name)
    answers: list[Reply | requests.RequestException] = [
        requests.Timeout(),
        Reply(503, headers={"Retry-After": "30"}),
        Reply(201),
    ]
    with canned_responses({API: answers}) as canned:
        result = run_job(make_job(kind=kind_name))
    result.assert_done(attempts=3)
    assert len(result.countdowns) == 2
    assert result.countdowns[1] == 30.0
    assert [call.address for call in canned.calls] == [CANNED_ADDRESS] * 3
    assert result.calls[0].json() == {"user": result.job.user_id}
    assert result.calls[0].headers["Content-Type"] == "application/json"


def test_a_job_that_keeps_failing_uses_its_whole_budget(
    make_job: Any, kind_name: str, settings: Any
) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, "MAX_RETRIES": 2}
    posting_kind(kind_name)
    with canned_responses({API: Reply(502)}):
        result = run_job(make_job(kind=kind_name))
    result.assert_failed(attempts=3, error_code="provider_error")
    assert len(result.calls) == 3
    assert "HTTP 502" in result.last_error
    with pytest.raises(AssertionError, match="state, attempts, error_code"):
        result.assert_done()


def test_a_url_without_a_reply_fails_the_block(make_job: Any, kind_name: str) -> None:
    posting_kind(kind_name, "https://api.example.com/other")
    with (
        pytest.raises(
            AssertionError, match=r"without a canned reply: POST https://api\.example\.com/other"
        ),
        canned_responses({API: Reply(200), "https://api.example.com/other": []}),
    ):
        run_job(make_job(kind=kind_name))


def test_run_job_says_when_the_job_is_not_finished(make_job: Any, kind_name: str) -> None:
    @jobs.register(kind_name)
    def handler(job: Job) -> None:
        raise ValueError("not yet")

    with pytest.raises(AssertionError, match="queued after 1 runs"):
        run_job(make_job(kind=kind_name).pk, max_runs=1)


def test_record_login_records_the_kinds_the_settings_plan(
    user: Any, kind_name: str, settings: Any
) -> None:
    jobs.register(kind_name, plan=jobs.once)(lambda job: None)
    settings.POSTLOGIN = {
        **settings.POSTLOGIN,
        "SIGNUP_JOBS": ["welcome_email", kind_name],
        "LOGIN_JOBS": [],
    }
    event = LoginEvent(user_id=user.pk, provider="github", is_new=True, profile=ProviderProfile())
    assert {row.kind for row in record_login(event)} == {kind_name, "welcome_email"}
    (job,) = Job.objects.filter(kind=kind_name)
    assert (job.key, job.state) == ("once", "queued")
    assert record_login(event, kinds=[kind_name]) == [], "the same work is not recorded twice"
    other = LoginEvent(user_id=user.pk, provider="github", is_new=False, profile=ProviderProfile())
    settings.POSTLOGIN = {**settings.POSTLOGIN, "LOGIN_JOBS": [kind_name, "avatar"]}
    assert record_login(other, kinds=[kind_name]) == []
    run_job(job).assert_done(attempts=1)
