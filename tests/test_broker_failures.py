"""A broker that refuses or hangs never fails, nor noticeably slows, a login."""

from __future__ import annotations

import logging

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

from postlogin.breaker import publish_breaker
from postlogin.models import Job

from .helpers import celery_app, hung_server, unused_port
from .social_flow import mock_google, social_login

# Real commits, so that on-commit publishing happens inside the timed request, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

BROKERS = {
    "redis": "redis://127.0.0.1:{port}/0",
    "amqp": "amqp://guest:guest@127.0.0.1:{port}//",
}


@pytest.mark.parametrize("scheme", sorted(BROKERS))
@responses.activate
def test_login_succeeds_when_broker_refuses_connections(
    client: Client, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    mock_google(responses.mock)
    with (
        celery_app(BROKERS[scheme].format(port=unused_port())),
        caplog.at_level(logging.WARNING, logger="postlogin"),
    ):
        response, elapsed = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(email="ada@example.com")
    jobs = Job.objects.filter(user=user)
    assert sorted(job.kind for job in jobs) == ["avatar", "welcome_email"]
    assert {job.state for job in jobs} == {"pending"}, "left for the relay"
    first, second = jobs.order_by("pk")
    assert f"could not publish job(s) {first.pk}, {second.pk}; the relay will" in caplog.text
    assert "2 job(s) left pending for the relay: broker unavailable" in caplog.text
    assert publish_breaker.is_open
    assert elapsed < 3


@pytest.mark.parametrize("scheme", sorted(BROKERS))
@responses.activate
def test_login_stays_bounded_when_broker_hangs(client: Client, scheme: str) -> None:
    mock_google(responses.mock)
    with hung_server() as port, celery_app(BROKERS[scheme].format(port=port)):
        response, elapsed = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="ada@example.com").exists()
    # The login's two messages go out together, in one attempt bounded by the 1 s socket
    # timeouts of BOUNDED_BROKER_OPTIONS; it fails, the circuit breaker opens, both stay pending.
    assert elapsed < 3
    assert Job.objects.filter(state="pending").count() == 2
