"""A project with both social-auth-app-django and django-allauth installed (settings_both)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

from postlogin import jobs
from postlogin.events import LoginEvent
from postlogin.models import Job

from .. import social_flow
from . import flow

pytestmark = [pytest.mark.allauth, pytest.mark.social, pytest.mark.django_db]


def plan_probe(event: LoginEvent) -> jobs.JobSpec:
    """Record everything a job planner learns from a login."""
    profile = dataclasses.asdict(event.profile)
    return jobs.JobSpec(
        key=event.login_id, payload={"provider": event.provider, "is_new": event.is_new, **profile}
    )


@pytest.fixture
def probe(settings: Any) -> Iterator[None]:
    def handler(job: Job) -> None:  # pragma: no cover - never run here
        raise AssertionError

    jobs.register("probe", plan=plan_probe)(handler)
    settings.POSTLOGIN = {"LOGIN_JOBS": ["probe"], "SIGNUP_JOBS": []}
    yield
    jobs.unregister("probe")


def probes() -> list[dict[str, Any]]:
    return [job.payload for job in Job.objects.filter(kind="probe").order_by("pk")]


@pytest.mark.parametrize(
    ("allauth_id", "backend"), [("google", "google-oauth2"), ("github", "github")]
)
@responses.activate
def test_the_same_login_tells_the_jobs_the_same_through_either_stack(
    probe: None, allauth_id: str, backend: str, django_capture_on_commit_callbacks: Any
) -> None:
    for mock in (
        social_flow.mock_google,
        social_flow.mock_github,
        flow.mock_google,
        flow.mock_github,
    ):
        mock(responses.mock)
    with django_capture_on_commit_callbacks(execute=True):
        social_flow.social_login(Client(), backend)
    (through_social_auth,) = probes()
    get_user_model().objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        flow.allauth_login(Client(), allauth_id)
    (through_allauth,) = probes()
    assert through_allauth == through_social_auth
    assert through_allauth["is_new"] is True
    assert through_allauth["email_verified"] is True


@responses.activate
def test_each_login_is_recorded_once_whichever_stack_ran_it(
    probe: None, django_capture_on_commit_callbacks: Any
) -> None:
    social_flow.mock_google(responses.mock)
    flow.mock_github(responses.mock)
    with django_capture_on_commit_callbacks(execute=True):
        social_flow.social_login(Client(), "google-oauth2")
        flow.allauth_login(Client(), "github")
        flow.allauth_login(Client(), "github")
    assert [(row["provider"], row["is_new"]) for row in probes()] == [
        ("google", True),
        ("github", True),
        ("github", False),
    ]
