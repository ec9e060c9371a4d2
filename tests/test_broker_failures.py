"""A broker that refuses or hangs never fails, nor noticeably slows, a login."""

from __future__ import annotations

import logging

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

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
        caplog.at_level(logging.ERROR, logger="postlogin"),
    ):
        response, elapsed = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert response["Location"] == "/done/"
    user = get_user_model().objects.get(email="ada@example.com")
    failures = [r.getMessage() for r in caplog.records if "could not publish" in r.getMessage()]
    assert sorted(failures) == [
        f"postlogin: could not publish avatar job for user {user.pk}; the work was not scheduled",
        f"postlogin: could not publish welcome_email job for user {user.pk}; "
        "the work was not scheduled",
    ]
    assert elapsed < 3


@pytest.mark.parametrize("scheme", sorted(BROKERS))
@responses.activate
def test_login_stays_bounded_when_broker_hangs(client: Client, scheme: str) -> None:
    mock_google(responses.mock)
    with hung_server() as port, celery_app(BROKERS[scheme].format(port=port)):
        response, elapsed = social_login(client, "google-oauth2")
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="ada@example.com").exists()
    # Two publishes, each bounded by the 1 s socket timeouts of BOUNDED_BROKER_OPTIONS.
    assert elapsed < 3
