"""Fault: the SMTP server is down, or accepts and never answers, then works again.

The welcome email is retried with backoff; a hung server costs one bounded wait
(``EMAIL_TIMEOUT``), never a worker thread held until the job's lease runs out; once the server
works the email goes out once.
"""

from __future__ import annotations

import time
from typing import Any

import django
import pytest

from postlogin import runner
from postlogin.models import Job, Profile

from ..helpers import hung_server, unused_port
from .smtp import smtp_server

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"
TIMEOUT = 1  # EMAIL_TIMEOUT, seconds


@pytest.fixture
def send_through(settings: Any) -> Any:
    """Point Django's SMTP backend at a loopback port, with ``EMAIL_TIMEOUT``."""

    def use(port: int) -> None:
        if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings
            options = {"host": "127.0.0.1", "port": port, "timeout": TIMEOUT}
            settings.MAILERS = {"default": {"BACKEND": SMTP, "OPTIONS": options}}
        else:
            settings.EMAIL_BACKEND = SMTP
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
            settings.EMAIL_TIMEOUT = TIMEOUT

    return use


def test_smtp_down_then_hung_then_working(make_job: Any, send_through: Any, user: Any) -> None:
    job = make_job(kind="welcome_email", key="once", payload={"verified_email": user.email})

    send_through(unused_port())  # nothing listens: connection refused
    refused = runner.run(job.pk)
    job.refresh_from_db()
    assert refused.state == "retry"
    assert (job.state, job.last_error.split(":")[0]) == ("queued", "ConnectionRefusedError")

    with hung_server() as port:  # accepts, never sends its greeting
        send_through(port)
        started = time.monotonic()
        hung = runner.run(job.pk)
        waited = time.monotonic() - started
    job.refresh_from_db()
    assert hung.state == "retry"
    assert job.last_error.endswith("timed out"), job.last_error
    assert waited < TIMEOUT + 5, "one bounded wait, not a thread held for the lease"

    with smtp_server() as server:
        send_through(server.port)
        assert runner.run(job.pk).state == "done"
        assert runner.run(job.pk).state == "skipped"  # a duplicate delivery sends nothing
    assert len(server.messages) == 1
    assert b"To: ada@example.com" in server.messages[0]
    assert Profile.objects.get(user=user).welcomed_at is not None
    assert Job.objects.get(pk=job.pk).attempts == 3


@pytest.mark.parametrize(
    ("backend", "timeout", "jobs", "warned"),
    [
        (SMTP, None, ["welcome_email"], True),
        (SMTP, 10, ["welcome_email"], False),
        ("django.core.mail.backends.locmem.EmailBackend", None, ["welcome_email"], False),
        (SMTP, None, [], False),
    ],
)
def test_w009_an_smtp_backend_without_timeout_is_reported(
    settings: Any, backend: str, timeout: int | None, jobs: list[str], warned: bool
) -> None:
    from postlogin.checks.email import check_smtp_timeout

    if django.VERSION >= (6, 1):
        options = {} if timeout is None else {"timeout": timeout}
        settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND, settings.EMAIL_TIMEOUT = backend, timeout
    settings.POSTLOGIN = {"SIGNUP_JOBS": jobs, "LOGIN_JOBS": []}
    assert [message.id for message in check_smtp_timeout()] == (["postlogin.W010"] * warned)
