"""Microsoft: no picture URL; the avatar job reads the photo from Graph with the stored token.

Graph is answered by ``responses``. The resolver is stubbed and a connect spy is on, so the
guard's checks run as in production while no connection can leave the machine.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from PIL import Image
from responses import matchers
from social_django.models import UserSocialAuth

from postlogin import runner
from postlogin.events import LoginEvent
from postlogin.kinds.avatar import plan_avatar
from postlogin.kinds.avatar.graph import PHOTO_URL
from postlogin.models import Job, Profile
from postlogin.providers import for_backend

from .network import ConnectSpy, connect_spy, stub_resolver
from .payloads.microsoft import GRAPH_ME, GRAPH_TOKEN

pytestmark = pytest.mark.django_db

TOKEN = str(GRAPH_TOKEN["access_token"])


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (648, 648), (0, 120, 212)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[responses.RequestsMock, ConnectSpy]]:
    # graph.microsoft.com's real addresses are public; any public one does for the guard.
    stub_resolver(monkeypatch, {"graph.microsoft.com": ["20.190.160.1"]})
    spy = connect_spy(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps, spy


@pytest.fixture
def signed_in(user: Any) -> Any:
    """The user as social-auth leaves them after a Microsoft login (token in extra_data)."""
    UserSocialAuth.objects.create(
        user=user,
        provider="microsoft-graph",
        uid=str(GRAPH_ME["id"]),
        extra_data={**GRAPH_TOKEN, "auth_time": 1767225600},
    )
    return user


def graph_job(user: Any) -> Job:
    spec = plan_avatar(
        LoginEvent(
            user_id=user.pk,
            provider="microsoft",
            is_new=True,
            profile=for_backend("microsoft-graph").profile({**GRAPH_TOKEN, **GRAPH_ME}),
        )
    )
    assert spec is not None
    return Job.objects.create(
        user=user, kind="avatar", key=spec.key, provider="microsoft", payload=spec.payload
    )


def run(job: Job) -> Job:
    runner.run(job.pk)
    job.refresh_from_db()
    return job


def test_the_planned_job_carries_no_token(user: Any) -> None:
    job = graph_job(user)
    assert job.payload == {"source": "microsoft-graph"}
    assert TOKEN not in str(job.payload)


def test_the_photo_is_fetched_with_the_stored_token_and_stored(
    signed_in: Any, graph: tuple[responses.RequestsMock, ConnectSpy]
) -> None:
    rsps, spy = graph
    rsps.get(
        PHOTO_URL,
        body=photo(),
        content_type="image/jpeg",
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )
    job = run(graph_job(signed_in))
    assert (job.state, job.last_error) == ("done", "")
    profile = Profile.objects.get(user=signed_in)
    assert profile.avatar_source_url == PHOTO_URL
    with Image.open(profile.avatar.path) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))
    assert spy.attempts == []


def test_no_photo_is_an_outcome_not_an_error(
    signed_in: Any,
    graph: tuple[responses.RequestsMock, ConnectSpy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rsps, _spy = graph
    error = {"error": {"code": "ImageNotFound", "message": "Exception of type ..."}}
    call = rsps.get(PHOTO_URL, status=404, json=error)
    caplog.set_level(logging.INFO, logger="postlogin")
    job = run(graph_job(signed_in))
    assert (job.state, job.attempts) == ("done", 1)
    assert call.call_count == 1
    assert not Profile.objects.filter(user=signed_in).exclude(avatar="").exists()
    assert f"no photo for user {signed_in.pk}" in caplog.text


def test_a_rejected_token_fails_without_retrying_and_without_showing_it(
    signed_in: Any, graph: tuple[responses.RequestsMock, ConnectSpy]
) -> None:
    rsps, _spy = graph
    rsps.get(PHOTO_URL, status=401, json={"error": {"code": "InvalidAuthenticationToken"}})
    job = run(graph_job(signed_in))
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error == ("PermanentJobError: http_status: HTTP 401 from graph.microsoft.com")
    assert TOKEN not in job.last_error


def test_graph_being_down_is_retried(
    signed_in: Any, graph: tuple[responses.RequestsMock, ConnectSpy]
) -> None:
    rsps, _spy = graph
    rsps.get(PHOTO_URL, status=503, headers={"Retry-After": "30"})
    job = run(graph_job(signed_in))
    assert job.state == "queued"
    assert job.last_error == "TransientFetchError: HTTP 503 from graph.microsoft.com"


def test_without_a_stored_token_the_job_fails_and_graph_is_not_called(
    user: Any, graph: tuple[responses.RequestsMock, ConnectSpy]
) -> None:
    rsps, _spy = graph
    call = rsps.get(PHOTO_URL, body=photo(), content_type="image/jpeg")
    job = run(graph_job(user))
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error.startswith("PermanentJobError: no_access_token: ")
    assert call.call_count == 0


def test_the_latest_microsoft_account_of_the_user_is_used(
    signed_in: Any, graph: tuple[responses.RequestsMock, ConnectSpy]
) -> None:
    UserSocialAuth.objects.create(
        user=signed_in,
        provider="azuread-tenant-oauth2",
        uid="tenant-oid",
        extra_data={"access_token": "newer-token"},
    )
    rsps, _spy = graph
    rsps.get(
        PHOTO_URL,
        body=photo(),
        content_type="image/jpeg",
        match=[matchers.header_matcher({"Authorization": "Bearer newer-token"})],
    )
    assert run(graph_job(signed_in)).state == "done"


def test_a_token_the_http_client_refuses_is_not_quoted_in_the_error(
    signed_in: Any, graph: tuple[responses.RequestsMock, ConnectSpy], caplog: Any
) -> None:
    # A token stored with a stray line break: requests refuses the header and quotes its value.
    social = UserSocialAuth.objects.get(user=signed_in)
    social.extra_data["access_token"] = "opaque-graph-token-with-newline\n"
    social.save()
    rsps, spy = graph
    caplog.set_level(logging.INFO, logger="postlogin")
    job = run(graph_job(signed_in))
    assert job.state == "failed"
    assert "opaque-graph-token" not in job.last_error + caplog.text
    assert "header value: 'Bearer [redacted]" in job.last_error
    assert (job.error_code, spy.attempts, len(rsps.calls)) == ("fetch_refused", [], 0)
