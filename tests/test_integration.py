"""A real Celery worker on real brokers (Redis and RabbitMQ) runs the post-login work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import current_app
from celery.signals import before_task_publish
from django.contrib.auth import get_user_model
from django.core import mail

from postlogin.models import Profile

from .helpers import celery_app, http_server, require_postgresql, running_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(broker_url: str) -> Iterator[None]:
    require_postgresql()
    with celery_app(broker_url) as app, running_worker(app):
        yield


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("ada", "ada@example.com", first_name="Ada")


@pytest.fixture
def fast_retries(settings: Any) -> None:
    settings.POSTLOGIN = {"MAX_RETRIES": 3, "RETRY_BACKOFF": 1, "RETRY_BACKOFF_MAX": 1}


def flaky(body: bytes, failures: int) -> Callable[[str, int], tuple[int, dict[str, str], bytes]]:
    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if hit <= failures:
            return 503, {"Content-Type": "text/plain"}, b"try later"
        return 200, {"Content-Type": "image/png"}, body

    return script


def test_worker_stores_the_avatar_and_sends_one_welcome_email(
    worker: None, user: Any, png_bytes: Callable[..., bytes]
) -> None:
    with http_server(flaky(png_bytes(), failures=0)) as avatar_host:
        current_app.send_task("postlogin.fetch_avatar", (user.pk, avatar_host.url("/ada.png")))
        current_app.send_task("postlogin.send_welcome_email", (user.pk,))
        wait_until(lambda: bool(Profile.objects.filter(user=user).exclude(avatar="").exists()))
        wait_until(lambda: len(mail.outbox) == 1)
    assert mail.outbox[0].to == ["ada@example.com"]


def test_a_message_delivered_twice_sends_one_email(worker: None, user: Any) -> None:
    for _ in range(2):
        current_app.send_task("postlogin.send_welcome_email", (user.pk,), task_id="same-id")
    current_app.send_task("postlogin.send_welcome_email", (user.pk,))
    wait_until(lambda: Profile.objects.filter(user=user, welcomed_at__isnull=False).exists())
    # Give the duplicate deliveries time to run too before counting.
    wait_until(lambda: len(mail.outbox) >= 1)
    time.sleep(1.0)
    assert len(mail.outbox) == 1


def test_flaky_avatar_host_is_retried_with_backoff(
    worker: None, user: Any, png_bytes: Callable[..., bytes], fast_retries: None
) -> None:
    retry_headers: list[dict[str, Any]] = []

    def record(headers: dict[str, Any], **kwargs: Any) -> None:
        if headers.get("retries"):
            # A zero countdown (possible with full jitter) publishes no ETA at all.
            eta = headers.get("eta")
            eta = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
            delay = (eta - datetime.now(UTC)).total_seconds() if eta else 0.0
            retry_headers.append({**headers, "delay": delay})

    before_task_publish.connect(record, weak=False)
    try:
        with http_server(flaky(png_bytes(), failures=2)) as avatar_host:
            current_app.send_task("postlogin.fetch_avatar", (user.pk, avatar_host.url("/a.png")))
            wait_until(lambda: Profile.objects.filter(user=user).exclude(avatar="").exists())
    finally:
        before_task_publish.disconnect(record)
    assert len(avatar_host.hits) == 3
    assert [h["retries"] for h in retry_headers] == [1, 2]
    for headers in retry_headers:
        # Full jitter: each countdown lies in [0, RETRY_BACKOFF_MAX] seconds.
        assert 0 <= headers["delay"] <= 1


def test_attempts_are_bounded_when_the_host_always_fails(
    worker: None, user: Any, png_bytes: Callable[..., bytes], fast_retries: None
) -> None:
    with http_server(flaky(png_bytes(), failures=10**6)) as avatar_host:
        current_app.send_task("postlogin.fetch_avatar", (user.pk, avatar_host.url("/a.png")))
        wait_until(lambda: len(avatar_host.hits) >= 4)
        time.sleep(2.5)  # longer than RETRY_BACKOFF_MAX: a fifth attempt would have happened
    assert len(avatar_host.hits) == 4  # the first attempt and MAX_RETRIES=3 retries
    assert not Profile.objects.get(user=user).avatar
