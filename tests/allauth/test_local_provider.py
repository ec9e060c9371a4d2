"""allauth's ``openid_connect`` provider against the example's local OpenID Connect provider,
over HTTP, with PKCE; the jobs run by a real Celery worker on a real broker."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from postlogin.allauth.tokens import access_token
from postlogin.models import Job, Profile

from ..devidp_server import sign_in_at_idp
from ..helpers import celery_app, require_postgresql, running_worker, wait_until
from ..settings import TEST_POSTLOGIN
from .flow import begin, query_of

#: Where allauth, behind Django's test client, asks the provider to send the browser back.
CALLBACK = "http://testserver/accounts/oidc/devidp/login/callback/"

pytestmark = [pytest.mark.allauth, pytest.mark.integration]

LOGIN = "/accounts/oidc/devidp/login/"


def sign_in(client: Client, username: str) -> Any:
    """The browser's part: begin at the app, sign in at the provider, come back."""
    authorize_url = begin(client, LOGIN)
    query = query_of(authorize_url)
    assert query["code_challenge_method"] == "S256", "PKCE"
    back = sign_in_at_idp(authorize_url, username, CALLBACK)
    return client.get(urlsplit(CALLBACK).path, back)


@pytest.mark.django_db(transaction=True)
def test_sign_in_at_the_local_provider_and_a_real_worker_does_the_jobs_once(
    broker_url: str, devidp: str, client: Client, settings: Any
) -> None:
    require_postgresql()
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "RELAY_PENDING_AFTER": 0, "RETRY_BACKOFF": 0}
    picture = devidp.removesuffix("/o") + "/avatars/alan.png"
    with celery_app(broker_url) as app, running_worker(app):
        response = sign_in(client, "alan")
        assert response["Location"] == "/done/"
        user = get_user_model().objects.get(username="alan")
        assert user.email == "alan@example.com"
        wait_until(lambda: Job.objects.filter(user=user, state="done").count() == 2)

        client.logout()
        assert sign_in(client, "alan")["Location"] == "/done/"
        wait_until(lambda: not Job.objects.exclude(state="done").exists())

    jobs = Job.objects.filter(user=user).order_by("kind")
    assert [(job.kind, job.provider, job.payload, job.attempts) for job in jobs] == [
        ("avatar", "oidc", {"url": picture}, 1),
        ("welcome_email", "oidc", {"verified_email": "alan@example.com"}, 1),
    ]
    assert Profile.objects.get(user=user).avatar_source_url == picture
    assert [message.to for message in mail.outbox] == [["alan@example.com"]]

    # The token allauth stored is the one a profile re-sync job would call the provider with.
    token = access_token(user.pk, "oidc")
    assert token
    userinfo = requests.get(
        f"{devidp}/userinfo/", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert userinfo.json()["preferred_username"] == "alan"


@pytest.mark.django_db
def test_without_userinfo_the_id_token_claims_give_the_picture(
    devidp: str,
    client: Client,
    settings: Any,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    providers = settings.SOCIALACCOUNT_PROVIDERS
    providers["openid_connect"]["APPS"][0]["settings"]["fetch_userinfo"] = False
    settings.SOCIALACCOUNT_PROVIDERS = providers
    with django_capture_on_commit_callbacks(execute=True):
        assert sign_in(client, "grace")["Location"] == "/done/"
    user = get_user_model().objects.get(username="grace")
    avatar = Job.objects.get(user=user, kind="avatar")
    assert avatar.payload == {"url": devidp.removesuffix("/o") + "/avatars/grace.png"}
