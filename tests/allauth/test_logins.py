"""What the jobs learn from an allauth login, for logins the round trips do not make."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from postlogin.allauth.logins import login_event
from postlogin.events import ProviderProfile
from postlogin.models import Job

from ..payloads import OIDC_USERINFO

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]


def test_a_social_login_built_by_hand_for_an_openid_connect_app(user: Any) -> None:
    """Code that builds its own SocialLogin (a custom provider, a project's tests) may leave out
    the provider instance: the account's app tells which provider it is."""
    from allauth.socialaccount.models import SocialAccount, SocialLogin

    account = SocialAccount(
        user=user, provider="devidp", uid="248289761001", extra_data={"id_token": OIDC_USERINFO}
    )
    event = login_event(SocialLogin(user=user, account=account), user.pk, is_new=False)
    assert event.provider == "oidc"
    assert event.profile == ProviderProfile(
        uid="248289761001",
        email="janedoe@example.com",
        email_verified=True,
        name="Jane Doe",
        avatar_url="https://idp.example.com/janedoe/me.jpg",
    )


def test_a_password_signup_records_no_jobs(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {
                "username": "ada",
                "email": "ada@example.com",
                "password1": "correct horse battery",
                "password2": "correct horse battery",
            },
        )
    assert response.status_code == 302
    assert client.get("/done/").content == b"logged in as ada"
    assert not Job.objects.exists()


def test_a_password_login_records_no_jobs(
    client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user.set_password("correct horse")
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/login/", {"login": "ada", "password": "correct horse"})
    assert response.status_code == 302
    assert client.get("/done/").content == b"logged in as ada"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("verified_by_allauth", "email_verified"),
    [
        (None, False),
        ("janedoe@example.com", True),
        ("JaneDoe@Example.com", True),
        ("janedoe@ex\u0430mple.com", False),  # a Cyrillic a: another address
    ],
)
def test_an_address_allauth_verified_counts_as_verified(
    user: Any, verified_by_allauth: str | None, email_verified: bool
) -> None:
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount, SocialLogin

    if verified_by_allauth:
        EmailAddress.objects.create(user=user, email=verified_by_allauth, verified=True)
    EmailAddress.objects.create(user=user, email="other@example.com", verified=False)
    claims = {**OIDC_USERINFO, "email_verified": False}
    account = SocialAccount(
        user=user, provider="devidp", uid="248289761001", extra_data={"id_token": claims}
    )
    event = login_event(SocialLogin(user=user, account=account), user.pk, is_new=True)
    assert event.profile.email == "janedoe@example.com"
    assert event.profile.email_verified is email_verified
