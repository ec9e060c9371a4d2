"""Outages and races, with a real worker, real brokers (Redis and RabbitMQ) and PostgreSQL.

Nothing is lost and nothing is done twice: broker down or hung during logins, a worker killed
mid-job, the same message delivered twice, a flaky provider, two simultaneous completions.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client
from social_django.models import UserSocialAuth

from postlogin import publish
from postlogin.models import Job, Profile

from .helpers import (
    avatar_script,
    celery_app,
    http_server,
    hung_server,
    require_postgresql,
    running_worker,
    unused_port,
    wait_until,
    worker_process,
)
from .payloads import GOOGLE_TOKEN, GOOGLE_USERINFO
from .settings import TEST_POSTLOGIN
from .social_flow import mock_google_users, social_login

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST_LEDGER = {
    **TEST_POSTLOGIN,
    "RELAY_PENDING_AFTER": 0,
    "MAX_RETRIES": 5,
    "RETRY_BACKOFF": 0,
    "RETRY_BACKOFF_MAX": 1,
    "BROKER_COOLDOWN": 60,
}


@pytest.fixture(autouse=True)
def _postgresql(settings: Any) -> None:
    require_postgresql()
    settings.POSTLOGIN = FAST_LEDGER


@pytest.fixture
def logins() -> Iterator[Callable[[int, Callable[[int], str]], list[float]]]:
    """Run ``n`` signups through the real views; returns each /complete/ request's seconds."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")

        def run(n: int, picture_url: Callable[[int], str]) -> list[float]:
            mock_google_users(rsps, picture_url)
            timings = []
            for _ in range(n):
                response, elapsed = social_login(Client(), "google-oauth2")
                assert response.status_code == 302
                assert response["Location"] == "/done/"
                timings.append(elapsed)
            return timings

        yield run


def relay_until_done(expected_jobs: int, timeout: float = 60) -> None:
    def all_done() -> bool:
        publish.relay()
        return Job.objects.filter(state="done").count() == expected_jobs

    try:
        wait_until(all_done, timeout=timeout, interval=0.3)
    except AssertionError:
        states = list(Job.objects.values_list("kind", "state", "attempts", "last_error"))
        raise AssertionError(f"not all {expected_jobs} jobs done: {states}") from None


def test_broker_down_fifty_logins_then_the_relay_delivers_everything(
    broker_url: str, logins: Any
) -> None:
    with http_server(avatar_script()) as avatar_host:
        with celery_app(f"redis://127.0.0.1:{unused_port()}/0"):
            timings = logins(50, lambda n: avatar_host.url(f"/u{n}.png"))
        assert get_user_model().objects.count() == 50
        assert Job.objects.filter(state="pending").count() == 100
        assert max(timings) < 3

        with celery_app(broker_url) as app, running_worker(app, concurrency=4):
            # The periodic relay task, as beat would send it, run by the real worker.
            app.send_task("postlogin.relay_pending")
            wait_until(lambda: Job.objects.filter(state="done").count() == 100, timeout=60)

    assert len(mail.outbox) == 50
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"user{n}@example.com" for n in range(1, 51)
    )
    assert Profile.objects.exclude(avatar="").count() == 50


def test_hung_broker_costs_one_timeout_then_the_breaker_keeps_logins_fast(
    logins: Any,
) -> None:
    with hung_server() as port, celery_app(f"redis://127.0.0.1:{port}/0"):
        timings = logins(5, lambda n: f"https://lh3.googleusercontent.com/a/{n}")
    assert timings[0] < 3
    assert max(timings[1:]) < 0.5, timings
    assert Job.objects.filter(state="pending").count() == 10


def test_worker_killed_mid_job_then_every_job_completes_once(
    broker_url: str, logins: Any, tmp_path: Path, settings: Any
) -> None:
    # Short lease and queue deadline: jobs the killed worker held (running, or prefetched and
    # never acknowledged) are relayed within seconds instead of minutes.
    settings.POSTLOGIN = {**FAST_LEDGER, "JOB_LEASE": 3, "RELAY_QUEUED_AFTER": 3}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    emails = tmp_path / "emails"
    env = {
        "POSTLOGIN_TEST_SETTINGS": json.dumps(settings.POSTLOGIN),
        "POSTLOGIN_TEST_MEDIA_ROOT": settings.MEDIA_ROOT,
        "POSTLOGIN_TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "POSTLOGIN_TEST_EMAIL_DIR": str(emails),
    }
    users = 12
    # The last user's picture hangs until the first worker is dead, so that one avatar job is
    # certainly in flight when it dies, however fast the others went; one thread of four is busy
    # with it, the other three get through the rest.
    released = threading.Event()
    slow = avatar_script(delay=0.6)

    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if path == f"/u{users}.png":
            released.wait(timeout=60)
        return slow(path, hit)

    with http_server(script) as avatar_host, celery_app(broker_url):
        with worker_process(broker_url, env) as worker:
            logins(users, lambda n: avatar_host.url(f"/u{n}.png"))
            # Kill it while avatar downloads are in flight, once the emails have gone out
            # (see docs/jobs.md for the milliseconds between sending and recording one).
            wait_until(
                lambda: (
                    Job.objects.filter(kind="welcome_email", state="done").count() == users
                    and Job.objects.filter(kind="avatar", state="running").exists()
                ),
                timeout=40,
            )
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        released.set()
        interrupted = Job.objects.exclude(state="done").count()
        assert interrupted > 0, "the kill came too late to interrupt anything"
        with worker_process(broker_url, env):
            relay_until_done(users * 2, timeout=90)

    # Count messages, not files: Django's file backend may append two messages to one file.
    recipients = sorted(
        line.removeprefix("To: ")
        for path in emails.iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("To: ")
    )
    assert recipients == sorted(f"user{n}@example.com" for n in range(1, users + 1))
    avatars = list((tmp_path / "media" / "avatars").iterdir())
    assert len(avatars) == users, "one stored avatar per user"
    assert Profile.objects.exclude(avatar="").count() == users


def test_the_same_message_delivered_twice_at_once_runs_the_handler_once(
    broker_url: str, user: Any
) -> None:
    with http_server(avatar_script(delay=0.5)) as avatar_host:
        job = Job.objects.create(
            user=user, kind="avatar", key="k", payload={"url": avatar_host.url("/u1.png")}
        )
        with celery_app(broker_url) as app, running_worker(app, concurrency=2):
            for _ in range(2):
                app.send_task("postlogin.run_job", (job.pk,), task_id=f"run-job-{job.pk}")
            wait_until(lambda: Job.objects.get(pk=job.pk).state == "done")
            time.sleep(0.8)  # the second delivery has run (and found the job taken) by now
    assert len(avatar_host.hits) == 1
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_flaky_host_completes_within_budget_and_a_dead_one_fails_then_replays(
    broker_url: str, logins: Any
) -> None:
    host_up = threading.Event()

    def fail(hit: int) -> bool:
        return hit % 2 == 0

    with (
        http_server(avatar_script(fail=fail)) as flaky,
        http_server(avatar_script(fail=lambda hit: not host_up.is_set())) as dead,
        celery_app(broker_url) as app,
        running_worker(app, concurrency=4),
    ):
        logins(8, lambda n: flaky.url(f"/u{n}.png") if n <= 6 else dead.url(f"/u{n}.png"))
        wait_until(lambda: Job.objects.filter(state__in=["done", "failed"]).count() == 16)
        failed = Job.objects.filter(state="failed")
        assert sorted(job.payload["url"] for job in failed) == [
            dead.url("/u7.png"),
            dead.url("/u8.png"),
        ]
        assert all(job.attempts == 6 for job in failed)
        assert all(job.last_error.startswith("TransientFetchError: HTTP 503") for job in failed)
        assert len(flaky.hits) > 6, "the flaky host's failures were retried"

        host_up.set()
        call_command("postlogin", "retry", "--failed")
        wait_until(lambda: Job.objects.filter(state="done").count() == 16)
    assert Profile.objects.exclude(avatar="").count() == 8


def test_two_simultaneous_completions_of_one_first_login(broker_url: str) -> None:
    barrier = threading.Barrier(2, timeout=10)

    def userinfo(request: Any) -> tuple[int, dict[str, str], str]:
        barrier.wait()  # both requests are past the token exchange before either goes on
        return 200, {"Content-Type": "application/json"}, json.dumps(GOOGLE_USERINFO)

    # Client(raise_request_exception=False): the test client's exception capture is a global
    # signal, so with two threads each client would re-raise the other's error.
    clients = [Client(raise_request_exception=False), Client(raise_request_exception=False)]
    results: list[Any] = []
    with celery_app(broker_url), responses.RequestsMock() as rsps:
        rsps.post("https://accounts.google.com/o/oauth2/token", json=GOOGLE_TOKEN)
        rsps.add_callback(responses.GET, "https://www.googleapis.com/oauth2/v3/userinfo", userinfo)
        from urllib.parse import parse_qs, urlsplit

        states = []
        for client in clients:
            begin = client.post("/login/google-oauth2/")
            states.append(parse_qs(urlsplit(begin["Location"]).query)["state"][0])

        def complete(client: Client, state: str) -> None:
            from django.db import connection

            try:
                response = client.get("/complete/google-oauth2/", {"code": "c", "state": state})
                results.append(response.status_code)
            except BaseException as exc:  # reported by the assertion below
                results.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=complete, args=pair)
            for pair in zip(clients, states, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads), results
    # social-auth-app-django refuses the loser of the race with its own storage error
    # (AuthAssociationError "username_in_use": a 500 here, where SOCIAL_AUTH_RAISE_EXCEPTIONS
    # is on); it never reaches the postlogin step: one user, one set of jobs.
    assert sorted(results) == [302, 500]
    # The loser may already have created an unlinked user row when social-auth refuses it
    # (it depends on whether get_username saw the winner's row): never a second linked one.
    assert get_user_model().objects.filter(social_auth__isnull=False).count() == 1
    social = UserSocialAuth.objects.get(provider="google-oauth2")
    jobs = Job.objects.order_by("kind")
    assert [(job.kind, job.user_id) for job in jobs] == [
        ("avatar", social.user_id),
        ("welcome_email", social.user_id),
    ]


@pytest.mark.parametrize("due", ["pending", "lost"])
def test_two_relays_at_once_publish_each_job_once(
    make_job: Any, memory_broker: Any, monkeypatch: pytest.MonkeyPatch, due: str
) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from postlogin.models import RelayMarker

    now = timezone.now()
    old = now - timedelta(minutes=1)
    for n in range(40):
        if due == "pending":
            make_job(key=f"k{n}", updated_at=old)
        else:  # queued, and a worker ran a relay marker published after their messages
            make_job(
                key=f"k{n}",
                state="queued",
                updated_at=old,
                lease_until=old + timedelta(seconds=900),
            )
    RelayMarker.objects.create(published_at=old + timedelta(seconds=1), seen_at=now)
    real_send = publish.send_run_job

    def slow_send(job_id: int) -> None:
        time.sleep(0.01)  # keep both relays inside their transactions at the same time
        real_send(job_id)

    monkeypatch.setattr(publish, "send_run_job", slow_send)
    sent: list[list[int]] = []

    def relay() -> None:
        try:
            sent.append(publish.relay(batch_size=25))
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    published = [args[0] for name, args in memory_broker() if name == publish.RUN_JOB_TASK]
    assert sorted(published) == sorted(set(published)), "a job was published twice"
    assert sorted(len(batch) for batch in sent) == [15, 25]
    assert Job.objects.filter(state="queued").count() == 40


def test_a_job_that_kills_its_worker_every_time_fails_after_its_budget(
    broker_url: str, user: Any, tmp_path: Path, settings: Any
) -> None:
    """Each run SIGKILLs the prefork child running it; the relay sends it again once its lease
    has run out, until the claim finds the attempts used up and fails it."""
    settings.POSTLOGIN = {**FAST_LEDGER, "MAX_RETRIES": 2, "JOB_LEASE": 1, "RELAY_QUEUED_AFTER": 1}
    runs = tmp_path / "runs"
    runs.touch()
    env = {
        "POSTLOGIN_TEST_SETTINGS": json.dumps(settings.POSTLOGIN),
        "POSTLOGIN_TEST_RUNS_FILE": str(runs),
    }
    job = Job.objects.create(user=user, kind="kill_worker", key="once")

    def failed() -> bool:
        publish.relay()
        return Job.objects.get(pk=job.pk).state == "failed"

    with celery_app(broker_url), worker_process(broker_url, env, concurrency=1, pool="prefork"):
        wait_until(failed, timeout=90, interval=0.3)
    job.refresh_from_db()
    assert runs.read_text().split("\n")[:-1] == [f"{job.pk} {n}" for n in (1, 2, 3)]
    assert (job.attempts, job.lease_until) == (3, None)
    assert job.last_error.startswith("WorkerLost: 3 attempts of 3 used")
