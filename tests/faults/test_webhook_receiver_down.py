"""Fault: a webhook receiver answers 500 for a long while (ten minutes in production; here until
the test says so, with the retry budget scaled down). Its deliveries are retried with backoff
within ``MAX_RETRIES``, then ``failed``, and replayable once it works: each event then arrives
once. The other jobs of the same logins (welcome emails) are not held up meanwhile."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from postlogin.models import Job

from ..helpers import celery_app, require_postgresql, running_worker, wait_until
from ..webhook_receiver import Reply, receiver, signup, webhook_settings

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_RETRIES = 3
USERS = 3


def test_receiver_answering_500_fails_its_jobs_alone_then_they_replay(
    redis_url: str, settings: Any
) -> None:
    require_postgresql()
    healthy = threading.Event()
    answers: Counter[tuple[str, int]] = Counter()

    def reply(msg_id: str, attempt: int) -> Reply:
        status = 204 if healthy.is_set() else 500
        answers[(msg_id, status)] += 1
        return status, {}

    with receiver(reply) as crm, celery_app(redis_url) as app:
        app.control.purge()
        settings.POSTLOGIN = webhook_settings(
            crm.url, SIGNUP_JOBS=["welcome_email"], MAX_RETRIES=MAX_RETRIES, RETRY_BACKOFF=1
        )
        users = [
            get_user_model().objects.create_user(f"user{n}", f"user{n}@example.com")
            for n in range(USERS)
        ]
        with running_worker(app, concurrency=2):
            for user in users:
                signup(user)
            webhooks = Job.objects.filter(kind="webhook")
            wait_until(lambda: len(mail.outbox) == USERS, timeout=30)
            assert not webhooks.filter(state="done").exists()
            wait_until(lambda: webhooks.filter(state="failed").count() == USERS, timeout=60)
            for job in webhooks:
                assert job.attempts == MAX_RETRIES + 1
                assert "HTTP 500 from webhook crm" in job.last_error

            healthy.set()
            call_command("postlogin", "retry", "--failed", "--kind", "webhook")
            wait_until(lambda: webhooks.filter(state="done").count() == USERS, timeout=30)

    failed = [n for (_id, status), n in answers.items() if status == 500]
    delivered = [n for (_id, status), n in answers.items() if status == 204]
    assert failed == [MAX_RETRIES + 1] * USERS, "each retried within its budget, no more"
    assert delivered == [1] * USERS, "each event delivered once after the replay"
    assert Job.objects.filter(kind="welcome_email", state="done").count() == USERS
