"""Jobs that call a provider on the user's behalf find the token allauth stored at login."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from postlogin import providers
from postlogin.allauth.tokens import access_token

from ..payloads import GITHUB_TOKEN, GOOGLE_TOKEN
from .flow import allauth_login, mock_github, mock_google

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]


@responses.activate
def test_the_token_of_the_login_is_found_by_provider(client: Client) -> None:
    mock_google(responses.mock)
    mock_github(responses.mock)
    allauth_login(client, "google")
    user = get_user_model().objects.get()
    assert access_token(user.pk, "google") == GOOGLE_TOKEN["access_token"]
    assert access_token(user.pk, "github") is None

    other = Client()
    allauth_login(other, "github")
    octocat = get_user_model().objects.get(username="octocat")
    assert access_token(octocat.pk, "github") == GITHUB_TOKEN["access_token"]
    assert access_token(octocat.pk, "google") is None


@responses.activate
def test_an_expired_token_is_not_handed_out(client: Client) -> None:
    from allauth.socialaccount.models import SocialToken

    mock_google(responses.mock)
    allauth_login(client, "google")
    user = get_user_model().objects.get()
    SocialToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert access_token(user.pk, "google") is None


@responses.activate
def test_no_token_when_allauth_stores_none(client: Client, settings: Any) -> None:
    settings.SOCIALACCOUNT_STORE_TOKENS = False
    mock_google(responses.mock)
    allauth_login(client, "google")
    assert access_token(get_user_model().objects.get().pk, "google") is None


def test_oidc_stands_for_every_openid_connect_app(user: Any) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    account = SocialAccount.objects.create(user=user, provider="devidp", uid="ada")
    SocialToken.objects.create(account=account, token="devidp-access-token")
    assert access_token(user.pk, "oidc") == "devidp-access-token"
    assert access_token(user.pk, "devidp") == "devidp-access-token"
    assert access_token(user.pk + 1, "oidc") is None


def test_the_most_recently_used_account_wins(user: Any) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    for uid in ("first", "second"):
        account = SocialAccount.objects.create(user=user, provider="google", uid=uid)
        SocialToken.objects.create(account=account, token=f"{uid}-token")
    SocialAccount.objects.filter(uid="first").update(last_login=timezone.now() + timedelta(1))
    assert access_token(user.pk, "google") == "first-token"


def test_a_registered_provider_finds_the_token_of_its_allauth_id(user: Any) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    class Streaming(providers.Provider):
        id = "streaming"
        allauth_ids = ("twitch",)

    account = SocialAccount.objects.create(user=user, provider="twitch", uid="141981764")
    SocialToken.objects.create(account=account, token="twitch-access-token")
    assert access_token(user.pk, "streaming") is None, "not registered yet"
    providers.register(Streaming)
    try:
        assert access_token(user.pk, "streaming") == "twitch-access-token"
    finally:
        providers.unregister(Streaming.id)
