"""Full social-auth round trips through the real views."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

from postlogin.models import Job

from .payloads import GITHUB_USER, GOOGLE_USERINFO
from .social_flow import mock_github, mock_google, social_login

pytestmark = pytest.mark.django_db


@responses.activate
def test_google_signup_then_returning_login(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_google(responses.mock)
    with django_capture_on_commit_callbacks() as callbacks:
        response, _ = social_login(client, "google-oauth2")
        assert memory_broker() == [], "published before the login transaction committed"
    for callback in callbacks:
        callback()
    assert response.status_code == 302
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert client.get("/done/").content == f"logged in as {user.username}".encode()
    jobs = Job.objects.filter(user=user).order_by("kind")
    assert [(job.kind, job.payload) for job in jobs] == [
        ("avatar", {"url": GOOGLE_USERINFO["picture"]}),
        ("welcome_email", {"verified_email": "ada@example.com"}),
    ]
    assert sorted(memory_broker()) == sorted(("postlogin.run_job", (job.pk,)) for job in jobs)

    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        response, _ = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert get_user_model().objects.count() == 1
    assert Job.objects.filter(user=user).count() == 2, "the same picture is the same job"
    assert memory_broker() == []


@responses.activate
def test_github_signup(
    client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_github(responses.mock)
    with django_capture_on_commit_callbacks(execute=True):
        response, _ = social_login(client, "github")
    assert response.status_code == 302
    user = get_user_model().objects.get(username="octocat")
    assert user.email == "octocat@github.com"
    jobs = Job.objects.filter(user=user).order_by("kind")
    assert [(job.kind, job.provider) for job in jobs] == [
        ("avatar", "github"),
        ("welcome_email", "github"),
    ]
    assert jobs[0].payload == {"url": GITHUB_USER["avatar_url"]}
    assert sorted(memory_broker()) == sorted(("postlogin.run_job", (job.pk,)) for job in jobs)
