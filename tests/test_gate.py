"""The onboarding gate (a social-auth partial pipeline) and verified-email account linking."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client, modify_settings
from django.utils import timezone
from social_django.models import Partial, UserSocialAuth

from postlogin.models import Job, Profile
from postlogin.social import partials

from .payloads import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_USERINFO, OIDC_USERINFO
from .social_flow import mock_google, social_login

pytestmark = pytest.mark.django_db

BASE_PIPELINE = [
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "postlogin.social.pipeline.associate_by_verified_email",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    "postlogin.social.pipeline.require_phone_number",
    "postlogin.social.pipeline.schedule_post_login_tasks",
]


@pytest.fixture(autouse=True)
def gated_pipeline(settings: Any) -> None:
    settings.SOCIAL_AUTH_PIPELINE = BASE_PIPELINE


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def begin_and_pause(client: Client, backend: str = "google-oauth2") -> str:
    """Start a login that stops at the gate; return the onboarding page's URL."""
    response, _ = social_login(client, backend)
    assert response.status_code == 302
    assert response["Location"].startswith("/postlogin/onboarding/?partial_token=")
    return str(response["Location"])


def onboarding_form(client: Client, url: str) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', html))
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    assert action
    fields["action"] = action.group(1)
    return fields


def submit(client: Client, form: dict[str, str], **data: str) -> Any:
    fields = {k: v for k, v in form.items() if k != "action"}
    return client.post(form["action"], {**fields, **data})


@responses.activate
def test_first_login_pauses_rejects_a_bad_number_then_completes(
    csrf_client: Client, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(csrf_client)
    assert not Job.objects.exists(), "no job before the gate is passed"
    form = onboarding_form(csrf_client, url)
    assert form["action"] == "/complete/google-oauth2/"
    assert "ada@example.com" in csrf_client.get(url).content.decode()

    again = submit(csrf_client, form, phone="12345")
    assert again.status_code == 400
    page = again.content.decode()
    assert "Start the number with + and its country code" in page
    assert 'value="12345"' in page, "what the user typed is kept"
    assert not Job.objects.exists()

    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))
    form["action"] = "/complete/google-oauth2/"
    with django_capture_on_commit_callbacks(execute=True):
        done = submit(csrf_client, form, phone="+44 20 7946 0000")
    assert done.status_code == 302
    assert done["Location"] == "/done/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert Profile.objects.get(user=user).phone == "+442079460000"
    assert sorted(Job.objects.values_list("kind", flat=True)) == ["avatar", "welcome_email"]
    assert len(memory_broker()) == 2
    assert csrf_client.get("/done/").content == f"logged in as {user.username}".encode()
    assert not Partial.objects.exists(), "the partial (with its tokens) is gone"


@responses.activate
def test_returning_user_with_a_phone_is_not_asked_again(client: Client) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(client)
    submit(client, onboarding_form(client, url), phone="+1 415 555 2671")
    client.logout()
    response, _ = social_login(client, "google-oauth2")
    assert response["Location"] == "/done/"


@responses.activate
def test_an_account_that_abandoned_the_gate_is_asked_again(client: Client) -> None:
    mock_google(responses.mock)
    begin_and_pause(client)
    other_browser = Client()
    begin_and_pause(other_browser)  # not a new user any more, but never got past the gate


@responses.activate
def test_users_without_phone_mode_asks_existing_users(client: Client, settings: Any) -> None:
    settings.POSTLOGIN = {"PHONE_REQUIRED_FOR": "users_without_phone"}
    mock_google(responses.mock)
    get_user_model().objects.create_user("ada", "ada@example.com", last_login=timezone.now())
    UserSocialAuth.objects.create(
        user=get_user_model().objects.get(username="ada"),
        provider="google-oauth2",
        uid="ada@example.com",
    )
    begin_and_pause(client)


@responses.activate
def test_terms_checkbox_is_required_and_recorded(client: Client, settings: Any) -> None:
    settings.POSTLOGIN = {"TERMS_URL": "https://example.com/terms"}
    mock_google(responses.mock)
    url = begin_and_pause(client)
    assert "https://example.com/terms" in client.get(url).content.decode()
    form = onboarding_form(client, url)
    refused = submit(client, form, phone="+442079460000")
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    page = refused.content.decode()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))
    form["action"] = "/complete/google-oauth2/"
    done = submit(client, form, phone="+442079460000", accept_terms="on")
    assert done.status_code == 302
    assert Profile.objects.get().terms_accepted_at is not None


@responses.activate
def test_a_partial_token_cannot_be_resumed_from_another_browser(client: Client) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(client)
    form = onboarding_form(client, url)
    attacker = Client()
    assert attacker.get(url)["Location"] == "/login-page/", "the form is not even shown"
    response = submit(attacker, form, phone="+442079460000")
    assert response.status_code == 302
    assert response["Location"] == "/login-error/"
    assert Profile.objects.filter(phone="+442079460000").count() == 0
    assert "_auth_user_id" not in attacker.session
    assert not Job.objects.exists()


@responses.activate
def test_a_tampered_token_fails_cleanly(client: Client) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(client)
    form = onboarding_form(client, url)
    form["partial_token"] = form["partial_token"][::-1]
    response = submit(client, form, phone="+442079460000")
    assert response.status_code == 302
    assert response["Location"] == "/login-error/"
    assert "_auth_user_id" not in client.session
    tampered_page = client.get(f"/postlogin/onboarding/?partial_token={form['partial_token']}")
    assert tampered_page["Location"] == "/login-page/"


@responses.activate
def test_an_expired_partial_sends_the_user_back_to_sign_in(client: Client) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(client)
    form = onboarding_form(client, url)
    Partial.objects.update(timestamp=timezone.now() - timedelta(hours=1))
    with modify_settings(INSTALLED_APPS={"remove": ["social_django"]}):
        assert partials.clear_stale() == 0, "social-auth not in use: not looked at"
    assert partials.clear_stale() == 1
    page = client.get(url, follow=False)
    assert page.status_code == 302
    assert page["Location"] == "/login-page/"
    response = submit(client, form, phone="+442079460000")
    assert response.status_code == 302
    assert response["Location"] == "/login-error/"
    assert not Job.objects.exists()


@responses.activate
def test_a_cross_site_post_to_the_gate_is_refused(csrf_client: Client) -> None:
    mock_google(responses.mock)
    url = begin_and_pause(csrf_client)
    form = onboarding_form(csrf_client, url)
    form["csrfmiddlewaretoken"] = "forged" * 8
    response = submit(csrf_client, form, phone="+442079460000")
    assert response.status_code == 400
    assert "This form expired. Please submit it again." in response.content.decode()
    assert not Profile.objects.filter(phone="+442079460000").exists()


# --- associate_by_verified_email ---------------------------------------------------------


@pytest.fixture
def existing_ada(settings: Any) -> Any:
    settings.SOCIAL_AUTH_PIPELINE = [
        step for step in BASE_PIPELINE if step != "postlogin.social.pipeline.require_phone_number"
    ]
    return get_user_model().objects.create_user("ada-local", "Ada@Example.com")


@responses.activate
def test_google_verified_email_links_the_existing_account(
    client: Client, existing_ada: Any
) -> None:
    mock_google(responses.mock)
    response, _ = social_login(client, "google-oauth2")
    assert response["Location"] == "/done/"
    assert UserSocialAuth.objects.get().user == existing_ada
    assert get_user_model().objects.count() == 1


@responses.activate
def test_google_unverified_email_is_refused(client: Client, existing_ada: Any) -> None:
    mock_google(responses.mock, userinfo={**GOOGLE_USERINFO, "email_verified": False})
    from social_core.exceptions import AuthException

    # social-core's Google backend already refuses an unverified email before any linking.
    with pytest.raises(AuthException, match="could not be verified"):
        social_login(client, "google-oauth2")
    assert not UserSocialAuth.objects.exists()


@pytest.mark.parametrize(
    ("emails", "linked"),
    [
        (GITHUB_EMAILS, True),
        ([{**GITHUB_EMAILS[0], "verified": False}], False),
    ],
)
@responses.activate
def test_github_links_only_a_verified_primary_email(
    client: Client,
    django_user_model: Any,
    emails: list[dict[str, Any]],
    linked: bool,
    settings: Any,
) -> None:
    settings.SOCIAL_AUTH_PIPELINE = [
        step for step in BASE_PIPELINE if step != "postlogin.social.pipeline.require_phone_number"
    ]
    octo = django_user_model.objects.create_user("octo-local", "octocat@github.com")
    responses.post("https://github.com/login/oauth/access_token", json=GITHUB_TOKEN)
    responses.get("https://api.github.com/user", json=GITHUB_USER)
    responses.get("https://api.github.com/user/emails", json=emails)
    response, _ = social_login(client, "github")
    if linked:
        assert response["Location"] == "/done/"
        assert UserSocialAuth.objects.get().user == octo
    else:
        assert response.status_code == 403
        page = response.content.decode()
        assert "did not confirm that this email address is verified" in page
        assert not UserSocialAuth.objects.exists()
        assert django_user_model.objects.count() == 1


def test_oidc_email_verified_claim_decides(existing_ada: Any, rf: Any) -> None:
    from types import SimpleNamespace

    from postlogin.social.pipeline import associate_by_verified_email

    backend = SimpleNamespace(name="oidc")
    strategy = SimpleNamespace(request=rf.get("/complete/oidc/"))
    details = {"email": "ada@example.com"}
    verified = {**OIDC_USERINFO, "email": "ada@example.com", "email_verified": True}
    linked = associate_by_verified_email(strategy, details, backend, response=verified)
    assert linked == {"user": existing_ada, "is_new": False}
    refused = associate_by_verified_email(
        strategy, details, backend, response={**verified, "email_verified": False}
    )
    assert getattr(refused, "status_code", None) == 403
    assert associate_by_verified_email(strategy, {}, backend, response=verified) is None
    assert associate_by_verified_email(strategy, details, backend, user=existing_ada) is None


def test_several_accounts_with_the_email_are_never_linked(existing_ada: Any, rf: Any) -> None:
    from types import SimpleNamespace

    from postlogin.social.pipeline import associate_by_verified_email

    get_user_model().objects.create_user("ada-2", "ada@example.com")
    refused = associate_by_verified_email(
        SimpleNamespace(request=rf.get("/")),
        {"email": "ada@example.com"},
        SimpleNamespace(name="oidc"),
        response={**OIDC_USERINFO, "email": "ada@example.com"},
    )
    assert getattr(refused, "status_code", None) == 403
    assert "Several accounts use" in refused.content.decode()  # type: ignore[union-attr]
