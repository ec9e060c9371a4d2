"""allauth's GitLab and Facebook adapters put the access token in the query string: a re-sync
that fails there records and logs no token, and the user sees a code, not the error."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import responses
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.test import Client

from postlogin.models import Profile

from ..helpers import black_hole
from ..resync_steps import run_sync

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]

GITLAB_TOKEN = "glpat-Zx81kQp2LmN4vB7sT0aY"
FACEBOOK_TOKEN = "EAAGm0PX4ZCpsBAOpaqueFacebookUserToken"


def linked(user: Any, provider: str, token: str, token_secret: str = "") -> SocialToken:
    account = SocialAccount.objects.create(user=user, provider=provider, uid="4242")
    return SocialToken.objects.create(account=account, token=token, token_secret=token_secret)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="postlogin")
    return caplog


@responses.activate
def test_a_facebook_refusal_is_logged_without_the_token(user: Any, logs: Any) -> None:
    linked(user, "facebook", FACEBOOK_TOKEN)
    refused = responses.get(
        "https://graph.facebook.com/v19.0/me",
        status=401,
        json={"error": {"message": "Error validating access token", "code": 190}},
    )
    job = run_sync()
    assert refused.call_count == 1
    assert FACEBOOK_TOKEN in str(refused.calls[0].request.url), "asked as allauth does"
    assert job.state == "done"
    assert Profile.objects.get(user=user).needs_login is True
    assert "facebook refused the stored tokens" in logs.text
    assert FACEBOOK_TOKEN not in logs.text
    assert "graph.facebook.com/v19.0/me?[redacted]" in logs.text


def test_gitlab_not_answering_is_recorded_without_the_token(
    user: Any, settings: Any, logs: Any, client: Client
) -> None:
    linked(user, "gitlab", GITLAB_TOKEN)
    settings.SOCIALACCOUNT_REQUESTS_TIMEOUT = 0.3
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    with black_hole() as port:
        providers["gitlab"]["GITLAB_URL"] = f"http://127.0.0.1:{port}"
        settings.SOCIALACCOUNT_PROVIDERS = providers
        job = run_sync()
    assert job.state == "queued", "retried"
    assert GITLAB_TOKEN not in job.last_error + logs.text
    assert "/api/v4/user?[redacted]" in job.last_error
    client.force_login(user)
    [shown] = client.get("/postlogin/jobs/").json()["jobs"]
    assert (shown["error_code"], shown["error_message"]) == (
        "timeout",
        "The service took too long to answer.",
    )


def test_stored_secrets_are_the_users_allauth_tokens(
    user: Any, django_user_model: Any, django_assert_max_num_queries: Any
) -> None:
    from postlogin import scrub
    from postlogin.accounts import installed_sources

    linked(user, "gitlab", GITLAB_TOKEN, "glrt-refresh-token")
    linked(django_user_model.objects.create_user("other"), "github", "gho_not_ada")
    with django_assert_max_num_queries(len(installed_sources())):  # one per login library
        assert scrub.stored_secrets(user.pk) == {GITLAB_TOKEN, "glrt-refresh-token"}
