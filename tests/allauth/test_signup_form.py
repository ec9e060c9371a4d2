"""The onboarding gate for allauth: the social signup form asks for a phone number."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

from postlogin.models import Job, Profile

from .flow import allauth_login, mock_google

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]

SIGNUP = "/accounts/3rdparty/signup/"


@pytest.fixture(autouse=True)
def _phone_gate(settings: Any) -> None:
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    settings.SOCIALACCOUNT_FORMS = {"signup": "postlogin.allauth.forms.PhoneSignupForm"}


def sign_up(client: Client, phone: str) -> Any:
    return client.post(SIGNUP, {"username": "ada", "email": "ada@example.com", "phone": phone})


@pytest.mark.parametrize(
    ("region", "refusal", "typed"),
    [
        (None, "Start the number with + and its country code", "+44 20 7946 0018"),
        ("GB", "This is not a valid phone number for its country.", "020 7946 0018"),
    ],
)
@responses.activate
def test_a_new_user_gives_a_phone_number_before_the_login_completes(
    client: Client,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    region: str | None,
    refusal: str,
    typed: str,
) -> None:
    settings.POSTLOGIN = {"PHONE_REGION": region}
    mock_google(responses.mock)
    response = allauth_login(client, "google")
    assert response["Location"] == SIGNUP
    page = client.get(SIGNUP).content.decode()
    assert 'name="phone"' in page
    assert 'autocomplete="tel"' in page

    refused = sign_up(client, "12")
    assert refused.status_code == 200
    assert refusal in refused.content.decode()
    assert not get_user_model().objects.exists()
    assert not Job.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = sign_up(client, typed)
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(username="ada")
    assert Profile.objects.get(user=user).phone == "+442079460018"
    assert sorted(Job.objects.filter(user=user).values_list("kind", flat=True)) == [
        "avatar",
        "welcome_email",
    ]
    assert len(memory_broker()) == 2


@responses.activate
def test_a_number_that_cannot_exist_is_refused_with_the_reason(client: Client) -> None:
    mock_google(responses.mock)
    allauth_login(client, "google")
    refused = sign_up(client, "+44 20 7946")
    assert refused.status_code == 200
    assert "This is not a valid phone number for its country." in refused.content.decode()
    assert not get_user_model().objects.exists()


@responses.activate
def test_with_a_terms_url_the_terms_must_be_accepted_and_the_acceptance_is_recorded(
    client: Client, settings: Any
) -> None:
    settings.POSTLOGIN = {"TERMS_URL": "https://example.com/terms"}
    mock_google(responses.mock)
    allauth_login(client, "google")
    page = client.get(SIGNUP).content.decode()
    assert '<a href="https://example.com/terms" target="_blank" rel="noopener">' in page
    refused = sign_up(client, "+44 20 7946 0018")
    assert refused.status_code == 200
    assert not get_user_model().objects.exists()

    accepted = client.post(
        SIGNUP,
        {
            "username": "ada",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0018",
            "accept_terms": "on",
        },
    )
    assert accepted["Location"] == "/done/"
    profile = Profile.objects.get(user__username="ada")
    assert profile.terms_accepted_at is not None
    assert profile.phone == "+442079460018"


@responses.activate
def test_without_a_terms_url_there_is_no_checkbox(client: Client) -> None:
    mock_google(responses.mock)
    allauth_login(client, "google")
    assert 'name="accept_terms"' not in client.get(SIGNUP).content.decode()
    assert sign_up(client, "+44 20 7946 0018")["Location"] == "/done/"
    assert Profile.objects.get(user__username="ada").terms_accepted_at is None
