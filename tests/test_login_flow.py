"""Full social-auth round trips through the real views."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

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
    assert sorted(memory_broker()) == [
        ("postlogin.fetch_avatar", (user.pk, GOOGLE_USERINFO["picture"])),
        ("postlogin.send_welcome_email", (user.pk,)),
    ]

    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        response, _ = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert get_user_model().objects.count() == 1
    assert memory_broker() == [
        ("postlogin.fetch_avatar", (user.pk, GOOGLE_USERINFO["picture"])),
    ]


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
    assert sorted(memory_broker()) == [
        ("postlogin.fetch_avatar", (user.pk, GITHUB_USER["avatar_url"])),
        ("postlogin.send_welcome_email", (user.pk,)),
    ]
