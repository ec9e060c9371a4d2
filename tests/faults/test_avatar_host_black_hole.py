"""Fault: a picture host black-holes connections (they are never completed). Each attempt costs
the connect timeout of ``HTTP_TIMEOUT``, the job fails after its retries, and the other jobs,
avatars from other hosts and welcome emails, keep flowing through the same workers."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from postlogin import publish
from postlogin.models import Job

from ..helpers import (
    avatar_script,
    black_hole,
    celery_app,
    http_server,
    require_postgresql,
    running_worker,
    wait_until,
)
from ..settings import TEST_POSTLOGIN

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_RETRIES = 2


def jobs_for(number: int, picture: str) -> list[Job]:
    user = get_user_model().objects.create_user(f"user{number}", f"user{number}@example.com")
    return [
        Job.objects.create(user=user, kind="avatar", key="k", payload={"url": picture}),
        Job.objects.create(
            user=user, kind="welcome_email", key="once", payload={"verified_email": user.email}
        ),
    ]


def test_black_holed_picture_host_costs_its_timeouts_and_delays_nothing_else(
    redis_url: str, settings: Any
) -> None:
    require_postgresql()
    settings.POSTLOGIN = {
        **TEST_POSTLOGIN,
        "HTTP_TIMEOUT": (0.5, 1.0),
        "MAX_RETRIES": MAX_RETRIES,
        "RETRY_BACKOFF": 0,
        "RETRY_BACKOFF_MAX": 1,
    }
    with (
        black_hole() as dark_port,
        http_server(avatar_script()) as good,
        celery_app(redis_url) as app,
    ):
        app.control.purge()
        dark = [jobs_for(n, f"http://127.0.0.1:{dark_port}/u{n}.png") for n in range(1, 4)]
        others = [jobs_for(n, good.url(f"/u{n}.png")) for n in range(4, 10)]
        with running_worker(app, concurrency=2):
            publish.publish([job.pk for pair in dark + others for job in pair])
            flowing = [job.pk for pair in others for job in pair] + [pair[1].pk for pair in dark]
            wait_until(
                lambda: Job.objects.filter(pk__in=flowing, state="done").count() == len(flowing),
                timeout=60,
            )
            stuck = [pair[0].pk for pair in dark]
            wait_until(
                lambda: Job.objects.filter(pk__in=stuck, state="failed").count() == len(stuck),
                timeout=60,
            )
    assert len(mail.outbox) == 9
    for job in Job.objects.filter(pk__in=stuck):
        assert job.attempts == MAX_RETRIES + 1
        assert "timed out" in job.last_error.lower(), job.last_error
