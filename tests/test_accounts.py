"""Account sources come from a registry that each login integration fills when its app is
ready; the token facade asks them in order."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import modify_settings
from social_django.models import UserSocialAuth

from postlogin import accounts, runner
from postlogin.jobs import PermanentJobError
from postlogin.models import Job
from postlogin.tokens import access_token

pytestmark = [pytest.mark.social, pytest.mark.django_db]


def test_a_sync_job_whose_account_source_is_not_registered_fails_for_good(user: Any) -> None:
    job = Job.objects.create(
        user=user, kind="profile_sync", key="k", payload={"source": "ldap", "account": 1}
    )
    runner.run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("failed", 1)
    assert "no 'ldap' account source is registered" in job.last_error


def test_a_source_counts_only_while_its_app_is_installed() -> None:
    assert "social_auth" in accounts.installed_sources()
    with modify_settings(INSTALLED_APPS={"remove": ["social_django"]}):
        assert "social_auth" not in accounts.installed_sources()
        with pytest.raises(PermanentJobError, match="no 'social_auth' account source"):
            accounts.source("social_auth")
    assert "social_auth" in accounts.installed_sources()


def test_social_auths_stored_token_is_found_by_postlogins_provider_id(user: Any) -> None:
    UserSocialAuth.objects.create(
        user=user, provider="google-oauth2", uid="1", extra_data={"access_token": "g-token"}
    )
    # A backend without an extractor is recorded (Job.provider) under its own name.
    UserSocialAuth.objects.create(
        user=user, provider="acme", uid="2", extra_data={"access_token": "acme-token"}
    )
    assert access_token(user.pk, "google") == "g-token"
    assert access_token(user.pk, "acme") == "acme-token"
    assert access_token(user.pk, "github") is None
    assert access_token(user.pk + 1, "google") is None


@pytest.mark.allauth
def test_with_both_libraries_social_auths_token_is_asked_first(user: Any) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    account = SocialAccount.objects.create(user=user, provider="microsoft", uid="oid")
    SocialToken.objects.create(account=account, token="allauth-token")
    social = UserSocialAuth.objects.create(
        user=user, provider="microsoft-graph", uid="oid", extra_data={"access_token": "sa-token"}
    )
    assert accounts.installed_sources() == ["social_auth", "allauth"]
    assert access_token(user.pk, "microsoft") == "sa-token"
    social.delete()
    assert access_token(user.pk, "microsoft") == "allauth-token"
