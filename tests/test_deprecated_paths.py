"""The paths of the social-auth modules before they moved to ``postlogin.social`` keep working,
each use warning with the new path, so that settings and imports can be updated at leisure."""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.module_loading import import_string

from postlogin.deprecation import PostloginDeprecationWarning
from postlogin.models import Job

from .settings import SOCIAL_AUTH_PIPELINE
from .social_flow import mock_google, social_login

pytestmark = pytest.mark.social

MOVED = {
    "postlogin.pipeline.schedule_post_login_tasks": (
        "postlogin.social.pipeline.schedule_post_login_tasks"
    ),
    "postlogin.pipeline.require_phone_number": "postlogin.social.pipeline.require_phone_number",
    "postlogin.pipeline.associate_by_verified_email": (
        "postlogin.social.pipeline.associate_by_verified_email"
    ),
    "postlogin.pipeline.users_with_address": "postlogin.social.pipeline.users_with_address",
    "postlogin.gate.applies_to": "postlogin.social.gate.applies_to",
    "postlogin.partials.clear_stale": "postlogin.social.partials.clear_stale",
    "postlogin.sync_socialauth.SOURCE": "postlogin.social.sync.SOURCE",
    "postlogin.checks.pipeline.check_pipeline_step": "postlogin.social.checks.check_pipeline_step",
    "postlogin.views.onboarding": "postlogin.social.views.onboarding",
    "postlogin.tokens.access_token_for": "postlogin.allauth.tokens.access_token",
    "postlogin.tokens.allauth_account_providers": "postlogin.allauth.tokens.account_providers",
}


@pytest.mark.parametrize(("old", "new"), MOVED.items())
def test_an_old_path_is_the_new_object_with_a_warning_naming_the_new_path(
    old: str, new: str
) -> None:
    with pytest.warns(PostloginDeprecationWarning, match=f"moved to {re.escape(new)};"):
        found = import_string(old)
    assert found is import_string(new)


@pytest.mark.parametrize(
    "module", ["postlogin.pipeline", "postlogin.gate", "postlogin.tokens", "postlogin.views"]
)
def test_a_name_that_never_was_there_is_an_attribute_error_without_a_warning(module: str) -> None:
    old = importlib.import_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(old, "missing")
        assert not hasattr(old, "__wrapped__")


def test_the_deprecation_warning_is_a_deprecation_warning() -> None:
    assert issubclass(PostloginDeprecationWarning, DeprecationWarning)


@responses.activate
@pytest.mark.django_db
def test_a_pipeline_with_the_old_step_path_still_records_the_jobs(
    client: Client, settings: Any, memory_broker: Any
) -> None:
    settings.SOCIAL_AUTH_PIPELINE = [
        step.replace("postlogin.social.pipeline.", "postlogin.pipeline.")
        for step in SOCIAL_AUTH_PIPELINE
    ]
    mock_google(responses.mock)
    with pytest.warns(PostloginDeprecationWarning, match="postlogin.social.pipeline"):
        response, _seconds = social_login(client, "google-oauth2")
    assert response.status_code == 302
    user = get_user_model().objects.get()
    assert Job.objects.filter(user=user).exists()
