"""The job state machine: claims, outcomes, retries, relay, replay, circuit breaker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from postlogin import dispatch, enqueue, jobs, ledger, publish, runner
from postlogin.breaker import PROBE, PUBLISH, SKIP, CircuitBreaker
from postlogin.events import LoginEvent, ProviderProfile
from postlogin.markers import MARKER_TASK
from postlogin.models import Job
from postlogin.publish import RUN_JOB_TASK

from .helpers import wait_until
from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db
MakeJob = Callable[..., Job]


def refreshed(job: Job) -> Job:
    job.refresh_from_db()
    return job


def test_a_job_is_claimed_once(make_job: MakeJob) -> None:
    job = make_job()
    claimed = ledger.claim(job.pk)
    assert claimed is not None
    assert (claimed.state, claimed.attempts) == ("running", 1)
    assert claimed.lease_until is not None
    assert ledger.claim(job.pk) is None, "a live lease is not claimable"


@pytest.mark.parametrize("state", ["done", "failed"])
def test_finished_jobs_are_not_claimable(make_job: MakeJob, state: str) -> None:
    assert ledger.claim(make_job(state=state).pk) is None


def test_an_expired_lease_is_claimable_and_fences_the_old_claim(make_job: MakeJob) -> None:
    job = make_job()
    first = ledger.claim(job.pk)
    assert first is not None
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = ledger.claim(job.pk)
    assert second is not None
    assert second.attempts == 2
    assert ledger.mark_done(first) is False, "the first worker lost its claim"
    assert ledger.mark_done(second) is True
    assert refreshed(job).state == "done"


def test_success_records_done_and_signals(
    make_job: MakeJob, recorded_kind: list[Any], signals: dict[str, list[Any]]
) -> None:
    job = make_job(kind="test")
    assert runner.run(job.pk) == runner.Outcome("done")
    job = refreshed(job)
    assert (job.state, job.attempts, job.last_error) == ("done", 1, "")
    assert job.finished_at is not None
    assert job.lease_until is None
    assert signals == {"succeeded": [job.pk], "failed": []}
    assert runner.run(job.pk) == runner.Outcome("skipped")
    assert recorded_kind == [job.pk], "a second delivery does not run the handler"


def test_transient_error_retries_with_jittered_backoff(
    make_job: MakeJob, recorded_kind: list[Any], settings: Any
) -> None:
    settings.POSTLOGIN = {
        **TEST_POSTLOGIN,
        "RETRY_BACKOFF": 3,
        "RETRY_BACKOFF_MAX": 10,
        "MAX_RETRIES": 5,
    }
    job = make_job(kind="test", payload={"raise": "transient"})
    countdowns = []
    for attempt in range(1, 5):
        outcome = runner.run(job.pk)
        assert outcome.state == "retry"
        assert 0 <= outcome.countdown <= min(10, 3 * 2 ** (attempt - 1))
        countdowns.append(outcome.countdown)
        job = refreshed(job)
        assert (job.state, job.attempts) == ("queued", attempt)
        assert job.last_error == "ConnectionError: provider unreachable"
        assert job.lease_until is not None
        assert job.lease_until > timezone.now() + timedelta(seconds=outcome.countdown)


def test_retries_are_bounded(
    make_job: MakeJob, recorded_kind: list[Any], settings: Any, signals: dict[str, list[Any]]
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "MAX_RETRIES": 2}
    job = make_job(kind="test", payload={"raise": "transient"})
    outcomes = [runner.run(job.pk).state for _ in range(4)]
    assert outcomes == ["retry", "retry", "failed", "skipped"]
    job = refreshed(job)
    assert (job.state, job.attempts) == ("failed", 3)
    assert job.last_error == "ConnectionError: provider unreachable"
    assert signals["failed"] == [(job.pk, "ConnectionError")]


def test_permanent_error_fails_at_once(
    make_job: MakeJob, recorded_kind: list[Any], signals: dict[str, list[Any]]
) -> None:
    job = make_job(kind="test", payload={"raise": "permanent"})
    assert runner.run(job.pk).state == "failed"
    assert refreshed(job).last_error == "PermanentJobError: bad input"
    assert signals["failed"] == [(job.pk, "PermanentJobError")]


def test_unregistered_kind_fails_with_a_clear_error(make_job: MakeJob) -> None:
    job = make_job(kind="gone")
    assert runner.run(job.pk).state == "failed"
    assert refreshed(job).last_error == "PermanentJobError: no job kind 'gone' is registered"


def test_registering_a_different_handler_under_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        jobs.register("avatar")(lambda job: None)
    with pytest.raises(ValueError, match="1 to 64 characters"):
        jobs.register("")
    assert {"avatar", "welcome_email"} <= set(jobs.registered_kinds())


def test_relay_publishes_only_due_jobs(make_job: MakeJob, memory_broker: Any) -> None:
    now = timezone.now()
    old = now - timedelta(minutes=1)
    due = [
        make_job(key="stale-pending", updated_at=old),
        make_job(key="lost-message", state="queued", lease_until=old),
        make_job(key="dead-worker", state="running", lease_until=old, attempts=1),
    ]
    make_job(key="fresh-pending")
    make_job(key="waiting", state="queued", lease_until=now + timedelta(minutes=5))
    make_job(key="live", state="running", lease_until=now + timedelta(minutes=5))
    make_job(key="done", state="done", updated_at=old)
    make_job(key="failed", state="failed", updated_at=old)

    sent = publish.relay()
    assert sorted(sent) == sorted(job.pk for job in due)
    published = memory_broker()
    assert sorted(args for name, args in published if name == RUN_JOB_TASK) == sorted(
        (j.pk,) for j in due
    )
    assert [name for name, _args in published if name != RUN_JOB_TASK] == [MARKER_TASK]
    for job in due:
        job = refreshed(job)
        assert job.state == "queued"
        assert job.lease_until is not None
        assert job.lease_until > now
    assert publish.relay() == [], "relayed jobs are not due again"


def test_relay_is_bounded_by_batch_size(make_job: MakeJob, memory_broker: Any) -> None:
    old = timezone.now() - timedelta(minutes=1)
    for n in range(5):
        make_job(key=f"k{n}", updated_at=old - timedelta(seconds=n))
    assert len(publish.relay(batch_size=2)) == 2
    assert [name for name, _args in memory_broker()] == [RUN_JOB_TASK] * 2 + [MARKER_TASK]
    assert len(publish.relay(batch_size=10)) == 3


def test_relay_stops_at_the_first_publish_error(make_job: MakeJob) -> None:
    from .helpers import celery_app, unused_port

    job = make_job(updated_at=timezone.now() - timedelta(minutes=1))
    with celery_app(f"redis://127.0.0.1:{unused_port()}/0"):
        assert publish.relay() == []
    assert refreshed(job).state == "pending"


def test_replay_sends_failed_jobs_round_again(
    make_job: MakeJob, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    failed = make_job(key="f", state="failed", attempts=6, last_error="boom")
    done = make_job(key="d", state="done")
    with django_capture_on_commit_callbacks(execute=True):
        replayed = enqueue.replay(Job.objects.all())
    assert replayed == [failed.pk]
    failed = refreshed(failed)
    assert (failed.state, failed.attempts, failed.last_error) == ("queued", 0, "")
    assert refreshed(done).state == "done"
    assert memory_broker() == [("postlogin.run_job", (failed.pk,))]


def test_circuit_breaker_opens_then_lets_one_probe_through(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "BROKER_COOLDOWN": 0}
    breaker = CircuitBreaker()
    assert breaker.acquire() == PUBLISH
    breaker.record_failure()
    assert breaker.is_open
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "BROKER_COOLDOWN": 60}
    assert breaker.acquire() == PROBE, "cool-down over: one probe"
    assert breaker.acquire() == SKIP, "the others skip until the probe reports"
    breaker.record_failure()
    assert breaker.acquire() == SKIP
    breaker.record_success()
    assert breaker.acquire() == PUBLISH
    assert not breaker.is_open


def test_an_open_breaker_leaves_jobs_pending(
    make_job: MakeJob, memory_broker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from postlogin.breaker import publish_breaker

    publish_breaker.record_failure()
    job = make_job()
    assert publish.publish([job.pk]) == []
    assert memory_broker() == []
    assert refreshed(job).state == "pending"
    assert "1 job(s) left pending for the relay" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_after_the_cool_down_a_background_thread_probes_the_broker(
    make_job: MakeJob, memory_broker: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from postlogin.breaker import publish_breaker

    settings.POSTLOGIN = {"BROKER_COOLDOWN": 0}
    publish_breaker.record_failure()
    first, second = make_job(key="a"), make_job(key="b")
    with caplog.at_level(logging.INFO, logger="postlogin"):
        # The login does not wait for the probe: nothing is sent from its own thread.
        assert publish.publish([first.pk, second.pk]) == []
    assert "probing it in the background" in caplog.text
    wait_until(lambda: refreshed(second).state == "queued")
    assert memory_broker() == [
        ("postlogin.run_job", (first.pk,)),
        ("postlogin.run_job", (second.pk,)),
    ]
    assert not publish_breaker.is_open, "a successful probe closes the circuit"


def test_a_failed_publish_leaves_every_job_of_the_login_pending(
    make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postlogin.breaker import publish_breaker

    def refuse(job_ids: list[int]) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(publish, "send_run_jobs", refuse)
    jobs = [make_job(key="a"), make_job(key="b")]
    assert publish.publish([job.pk for job in jobs]) == []
    assert [refreshed(job).state for job in jobs] == ["pending", "pending"]
    assert publish_breaker.is_open


def signup(user: Any) -> LoginEvent:
    return LoginEvent(
        user_id=user.pk,
        provider="google",
        is_new=True,
        profile=ProviderProfile(avatar_url="https://lh3.googleusercontent.com/a/ada"),
    )


def test_a_login_records_its_rows_queued_and_a_second_one_does_not_publish_them_again(
    user: Any, make_job: MakeJob
) -> None:
    first = dispatch.record_jobs(signup(user))
    assert len(first.queued) == 2
    assert first.pending_ids == ()
    rows = Job.objects.filter(user=user)
    assert {(job.state, job.batch) for job in rows} == {("queued", first.batch)}
    # The same work recorded again at once (two tabs): the first login's messages carry it.
    assert dispatch.record_jobs(signup(user)).ids == []
    # Work of the same kind and key left pending by an outage goes out with the next login.
    waiting = make_job(kind="avatar", key="url:elsewhere")
    Job.objects.filter(user=user, kind="welcome_email").update(state="pending", lease_until=None)
    again = dispatch.record_jobs(signup(user))
    assert again.queued == ()
    assert list(again.pending_ids) == list(
        Job.objects.filter(user=user, kind="welcome_email").values_list("pk", flat=True)
    )
    assert waiting.pk not in again.ids, "only this login's work"


def test_rows_recorded_queued_go_back_to_pending_when_the_message_does_not_go_out(
    user: Any, memory_broker: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postlogin.breaker import publish_breaker

    def refuse(job_ids: list[int]) -> None:
        raise OSError("connection refused")

    # The broker refuses: back to pending.
    with monkeypatch.context() as patch:
        patch.setattr(publish, "send_run_jobs", refuse)
        recorded = dispatch.record_jobs(signup(user))
        assert publish.publish_recorded(recorded) == []
    assert {job.state for job in Job.objects.all()} == {"pending"}
    assert {job.lease_until for job in Job.objects.all()} == {None}

    # The circuit opened between the insert and the commit: back to pending, nothing sent.
    Job.objects.all().delete()
    publish_breaker.record_success()
    recorded = dispatch.record_jobs(signup(user))
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "BROKER_COOLDOWN": 60}
    publish_breaker.record_failure()
    assert publish.publish_recorded(recorded) == []
    assert {job.state for job in Job.objects.all()} == {"pending"}
    assert memory_broker() == []

    # While the circuit is open a login records its rows pending straight away.
    Job.objects.all().delete()
    assert dispatch.record_jobs(signup(user)).queued == ()
    assert {job.state for job in Job.objects.all()} == {"pending"}


def test_a_row_a_worker_has_claimed_is_not_put_back(user: Any) -> None:
    recorded = dispatch.record_jobs(signup(user))
    claimed = ledger.claim(recorded.queued[0].pk)
    assert claimed is not None
    assert ledger.mark_unpublished(recorded.ids, recorded.batch) == 1
    assert refreshed(claimed).state == "running"


def test_status_command(make_job: MakeJob) -> None:
    make_job(key="a", created_at=timezone.now() - timedelta(seconds=90))
    make_job(key="b", state="failed")
    make_job(kind="welcome_email", key="once", state="done")
    out = StringIO()
    call_command("postlogin", "status", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["kind", "pending", "queued", "running", "done", "failed"]
    assert lines[1].split() == ["avatar", "1", "0", "0", "0", "1"]
    assert lines[2].split() == ["welcome_email", "0", "0", "0", "1", "0"]
    assert lines[3].startswith("oldest pending job: 9")
    out = StringIO()
    call_command("postlogin", "status", "--json", stdout=out)
    assert '"avatar": {"failed": 1, "pending": 1}' in out.getvalue().replace(
        '"pending": 1, "failed": 1', '"failed": 1, "pending": 1'
    )


def test_retry_command_filters_by_kind_and_date(
    make_job: MakeJob, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = make_job(key="old", state="failed", created_at=timezone.now() - timedelta(days=3))
    recent = make_job(key="new", state="failed")
    other = make_job(kind="welcome_email", key="once", state="failed")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "postlogin", "retry", "--failed", "--kind", "avatar", "--since", since, stdout=out
        )
    assert out.getvalue().strip() == "1 failed job(s) sent round again"
    assert [refreshed(j).state for j in (old, recent, other)] == ["failed", "queued", "failed"]
    assert memory_broker() == [("postlogin.run_job", (recent.pk,))]
    with pytest.raises(CommandError, match="retry --failed"):
        call_command("postlogin", "retry")
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("postlogin", "retry", "--failed", "--since", "yesterday")


def test_relay_command(make_job: MakeJob, memory_broker: Any) -> None:
    make_job(updated_at=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("postlogin", "relay", stdout=out)
    assert out.getvalue().strip() == "1 job(s) published"


def test_admin_replay_action(admin_client: Any, make_job: MakeJob, memory_broker: Any) -> None:
    failed = make_job(key="f", state="failed")
    done = make_job(key="d", state="done")
    response = admin_client.post(
        "/admin/postlogin/job/",
        {"action": "replay", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 job sent round again." in text
    assert "1 selected job was not failed and was left alone." in text
    assert refreshed(failed).state in ("pending", "queued")
    assert refreshed(done).state == "done"


def test_admin_lists_and_filters_jobs(admin_client: Any, make_job: MakeJob) -> None:
    make_job(key="f", state="failed", last_error="boom")
    response = admin_client.get("/admin/postlogin/job/", {"state__exact": "failed"})
    assert response.status_code == 200
    assert b"avatar" in response.content
    assert admin_client.get("/admin/postlogin/job/add/").status_code == 403


@pytest.mark.parametrize("error", [None, "transient", "permanent"])
def test_a_worker_whose_lease_was_taken_over_records_nothing(
    make_job: MakeJob, error: str | None, signals: dict[str, list[Any]]
) -> None:
    """While the handler runs, its lease expires and another worker claims the job."""
    taken_over: list[Job] = []

    def slow_handler(job: Job) -> None:
        Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        other = ledger.claim(job.pk)
        assert other is not None
        taken_over.append(other)
        if error == "transient":
            raise ConnectionError("late")
        if error == "permanent":
            raise jobs.PermanentJobError("late")

    jobs.register("slow", plan=jobs.once)(slow_handler)
    try:
        job = make_job(kind="slow")
        assert runner.run(job.pk) == runner.Outcome("lost")
    finally:
        jobs.unregister("slow")
    job = refreshed(job)
    assert (job.state, job.attempts, job.last_error) == ("running", 2, "")
    assert signals == {"succeeded": [], "failed": []}
