"""Webhook jobs delivered by real workers to a local receiver that verifies every message with
the reference Standard Webhooks library; global rate limits shared through Redis."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from postlogin import publish
from postlogin.models import Job

from .helpers import celery_app, require_postgresql, running_worker, wait_until, worker_process
from .webhook_receiver import Reply, receiver, signup, webhook_settings

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    require_postgresql()


def test_a_receiver_that_fails_twice_gets_the_same_id_three_times_and_one_event(
    redis_url: str, user: Any, settings: Any
) -> None:
    def reply(msg_id: str, attempt: int) -> Reply:
        return (503, {}) if attempt <= 2 else (204, {})

    with receiver(reply) as crm:
        settings.POSTLOGIN = webhook_settings(crm.url)
        with celery_app(redis_url) as app, running_worker(app):
            [job_id] = signup(user)
            wait_until(lambda: Job.objects.get(pk=job_id).state == "done")
    ids = [msg_id for _at, msg_id, _payload in crm.deliveries]
    assert len(ids) == 3
    assert len(set(ids)) == 1, "the webhook-id is stable across retries"
    unique_events = {msg_id: payload for _at, msg_id, payload in crm.deliveries}
    [event] = unique_events.values()
    assert event["type"] == "user.signed_up"
    assert event["data"]["user_id"] == user.pk
    assert event["data"]["profile"]["email"] == "ada@example.com"
    assert "token" not in json.dumps(event).lower()
    assert Job.objects.get(pk=job_id).attempts == 3


def test_a_400_is_not_retried_and_retry_after_is_honoured(
    redis_url: str, django_user_model: Any, settings: Any
) -> None:
    refused = django_user_model.objects.create_user("refused", "r@example.com")
    later = django_user_model.objects.create_user("later", "l@example.com")
    first_id: dict[str, str] = {}

    def reply(msg_id: str, attempt: int) -> Reply:
        owner = first_id.setdefault(msg_id, "refused" if not first_id else "later")
        if owner == "refused":
            return 400, {}
        return (429, {"Retry-After": "2"}) if attempt == 1 else (200, {})

    with receiver(reply) as crm:
        settings.POSTLOGIN = webhook_settings(crm.url, RETRY_BACKOFF_MAX=5)
        with celery_app(redis_url) as app, running_worker(app):
            [refused_job] = signup(refused)
            wait_until(lambda: Job.objects.get(pk=refused_job).state == "failed")
            [later_job] = signup(later)
            wait_until(lambda: Job.objects.get(pk=later_job).state == "done")
    failed = Job.objects.get(pk=refused_job)
    assert failed.attempts == 1
    assert "HTTP 400 from webhook crm" in failed.last_error
    times = [at for at, msg_id, _ in crm.deliveries if first_id.get(msg_id) == "later"]
    assert len(times) == 2
    assert times[1] - times[0] >= 1.9, "Retry-After: 2 was honoured"


def test_rate_limit_shared_by_two_worker_processes(
    redis_url: str, user: Any, settings: Any, tmp_path: Path
) -> None:
    with receiver(lambda msg_id, attempt: (200, {})) as crm:
        settings.POSTLOGIN = webhook_settings(
            crm.url,
            RATE_LIMITS={"webhook:crm": "20/second"},
            RATE_LIMIT_STORAGE=redis_url.rsplit("/", 1)[0] + "/14",
        )
        import redis

        redis.Redis.from_url(settings.POSTLOGIN["RATE_LIMIT_STORAGE"]).flushdb()
        now = timezone.now()
        jobs = [
            Job(
                user=user,
                kind="webhook",
                key=f"crm:signup:{n}",
                payload={
                    "endpoint": "crm",
                    "msg_id": f"msg_{n}",
                    "body": {"type": "user.signed_up", "timestamp": now.isoformat(), "data": {}},
                },
                updated_at=now,
            )
            for n in range(200)
        ]
        Job.objects.bulk_create(jobs)
        env = {
            "POSTLOGIN_TEST_SETTINGS": json.dumps(settings.POSTLOGIN),
            "POSTLOGIN_TEST_MEDIA_ROOT": str(tmp_path),
        }
        with (
            celery_app(redis_url),
            worker_process(redis_url, env, concurrency=8),
            worker_process(redis_url, env, concurrency=8),
        ):
            publish.publish(list(Job.objects.values_list("pk", flat=True)))
            wait_until(lambda: Job.objects.filter(state="done").count() == 200, timeout=60)
    arrivals = sorted(at for at, _id, _payload in crm.deliveries)
    assert len(arrivals) == 200
    busiest = max(
        sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals)
    )
    spread = [round(b - a, 3) for a, b in itertools.pairwise(arrivals)]
    assert busiest <= 20, f"{busiest} deliveries in one second; gaps {spread}"
    assert arrivals[-1] - arrivals[0] >= 9, "200 at 20/second take at least 9 seconds"
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}, "waiting is not failing"
