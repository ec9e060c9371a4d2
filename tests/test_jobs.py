"""The built-in work, run directly: avatar download and storage, the welcome email."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from PIL import Image

from postlogin import runner
from postlogin.models import Job, Profile

from .helpers import http_server

pytestmark = pytest.mark.django_db


def run_avatar(user: Any, url: str) -> Job:
    """Record an avatar job for ``url`` and run it the way the worker does."""
    job, _ = Job.objects.get_or_create(
        user=user, kind="avatar", key=url, defaults={"payload": {"url": url}}
    )
    runner.run(job.pk)
    job.refresh_from_db()
    return job


def serve(body: bytes, status: int = 200, content_type: str = "image/png") -> Any:
    return http_server(lambda path, n: (status, {"Content-Type": content_type}, body))


def test_avatar_is_normalised_and_stored(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes((300, 200))) as server:
        assert run_avatar(user, server.url("/a.png")).state == "done"
    profile = Profile.objects.get(user=user)
    assert profile.avatar_source_url == server.url("/a.png")
    with Image.open(profile.avatar.path) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))


def test_same_url_is_not_fetched_twice(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes()) as server:
        run_avatar(user, server.url("/a.png"))
        Job.objects.update(state="pending")  # the same work, delivered again
        assert run_avatar(user, server.url("/a.png")).state == "done"
    assert len(server.hits) == 1


def test_same_picture_at_a_new_url_is_not_stored_twice(
    user: Any, png_bytes: Callable[..., bytes]
) -> None:
    with serve(png_bytes()) as server:
        run_avatar(user, server.url("/a.png"))
        first = Profile.objects.get(user=user).avatar.name
        assert run_avatar(user, server.url("/a.png?v=2")).state == "done"
    profile = Profile.objects.get(user=user)
    assert profile.avatar.name == first
    assert profile.avatar_source_url.endswith("?v=2")


def test_changed_picture_replaces_the_old_file(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes(color="red")) as server:
        run_avatar(user, server.url("/red.png"))
    old_path = Path(Profile.objects.get(user=user).avatar.path)
    with serve(png_bytes(color="blue")) as server:
        assert run_avatar(user, server.url("/blue.png")).state == "done"
    new_path = Path(Profile.objects.get(user=user).avatar.path)
    assert new_path != old_path
    assert new_path.exists()
    assert not old_path.exists()


def test_http_errors_are_permanent_or_transient(user: Any) -> None:
    with serve(b"missing", status=404) as server:
        job = run_avatar(user, server.url("/a.png"))
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error == "PermanentJobError: http_status: HTTP 404 from 127.0.0.1"
    with serve(b"busy", status=503) as server:
        job = run_avatar(user, server.url("/b.png"))
    assert job.state == "queued"
    assert job.last_error == "TransientFetchError: HTTP 503 from 127.0.0.1"


def test_a_refused_picture_fails_at_once_with_its_reason(user: Any) -> None:
    html = b"<!doctype html><title>Sign in</title>"
    with serve(html, content_type="image/png") as server:
        job = run_avatar(user, server.url("/a.png"))
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error.startswith("PermanentJobError: not_an_image: ")
    assert not Profile.objects.get(user=user).avatar


def test_an_avatar_url_on_a_private_network_fails_without_connecting(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .network import connect_spy, stub_resolver

    stub_resolver(monkeypatch, {"avatars.internal.test": ["10.20.30.40"]})
    spy = connect_spy(monkeypatch)
    job = run_avatar(user, "https://avatars.internal.test/u/1.png")
    monkeypatch.undo()
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error.startswith("PermanentJobError: address_not_allowed: ")
    assert spy.attempts == []


def test_avatar_job_without_url_fails_permanently(user: Any) -> None:
    job = Job.objects.create(user=user, kind="avatar", key="x", payload={})
    runner.run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.last_error) == (
        "failed",
        "PermanentJobError: the job payload has no picture URL",
    )


def run_welcome(user: Any, verified_email: str | None = "ada@example.com") -> Job:
    """Record the welcome job of a login whose provider verified ``verified_email``, run it."""
    payload = {"verified_email": verified_email} if verified_email else {}
    job, _ = Job.objects.get_or_create(
        user=user, kind="welcome_email", key="once", defaults={"payload": payload}
    )
    runner.run(job.pk)
    job.refresh_from_db()
    return job


def test_welcome_email_is_sent_once(user: Any) -> None:
    assert run_welcome(user).state == "done"
    Job.objects.update(state="pending")  # delivered again
    assert run_welcome(user).state == "done"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "Welcome, Ada!"
    job = Job.objects.get(kind="welcome_email")
    assert (
        message.extra_headers["Message-ID"] == f"<postlogin.welcome.{job.pk}.{user.pk}@example.com>"
    )
    assert isinstance(message, EmailMultiAlternatives)
    assert message.alternatives[0][1] == "text/html"
    assert Profile.objects.get(user=user).welcomed_at is not None


def test_failed_send_is_retried_and_then_sent(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    job = run_welcome(user)
    assert (job.state, job.last_error) == ("queued", "SMTPServerDisconnected: gone")
    assert Profile.objects.get(user=user).welcomed_at is None
    monkeypatch.undo()
    assert run_welcome(user).state == "done"
    assert len(mail.outbox) == 1


def test_welcome_email_skips_users_without_address(django_user_model: Any) -> None:
    no_email = django_user_model.objects.create_user("nomail")
    assert run_welcome(no_email).state == "done"
    assert mail.outbox == []


def test_no_welcome_email_to_an_address_the_login_did_not_verify(user: Any) -> None:
    assert run_welcome(user, verified_email=None).state == "done"
    assert mail.outbox == []
    assert Profile.objects.get(user=user).welcomed_at is None


@pytest.mark.parametrize(
    "verified",
    [
        "ada@example.org",  # the user's address changed since, or never was the verified one
        "ada@ex\u0430mple.com",  # a Cyrillic a: a look-alike of the user's address
        "ada@example.com.",
    ],
)
def test_no_welcome_email_when_the_verified_address_is_another(user: Any, verified: str) -> None:
    assert run_welcome(user, verified_email=verified).state == "done"
    assert mail.outbox == []


def test_the_verified_address_may_differ_in_ascii_case(user: Any) -> None:
    assert run_welcome(user, verified_email="Ada@Example.COM").state == "done"
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_welcome_email_unverified_setting_mails_any_address(user: Any, settings: Any) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, "WELCOME_EMAIL_UNVERIFIED": True}
    assert run_welcome(user, verified_email=None).state == "done"
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
