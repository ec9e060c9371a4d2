"""The handler contract the runner enforces (postlogin.jobs): waits the errors ask for, the
kind's declared rate limit, and a completion recorded in the transaction that marks the job
done."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime
from importlib import import_module
from typing import Any

import pytest
from django.utils import timezone

from postlogin import deprecation, jobs, kinds, ledger, runner
from postlogin.conf import postlogin_settings
from postlogin.models import Job, Profile
from postlogin.net import TransientFetchError

pytestmark = pytest.mark.django_db

MakeJob = Callable[..., Job]


def refreshed(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def seconds_until(moment: Any) -> float:
    return float((moment - timezone.now()).total_seconds())


@pytest.mark.parametrize("retry_after", [120.0, None])
def test_the_runner_honours_a_transient_fetch_errors_retry_after(
    make_job: MakeJob, kind_name: str, settings: Any, retry_after: float | None
) -> None:
    settings.POSTLOGIN = {
        **settings.POSTLOGIN,
        "RETRY_BACKOFF": 1,
        "RETRY_BACKOFF_MAX": 600,
        "RELAY_QUEUED_AFTER": 60,
    }

    @jobs.register(kind_name)
    def handler(job: Job) -> None:
        raise TransientFetchError("http_status", "HTTP 503", status=503, retry_after=retry_after)

    job = make_job(kind=kind_name)
    outcome = runner.run(job.pk)
    assert outcome.state == "retry"
    if retry_after is None:
        assert outcome.countdown <= 1, "no Retry-After: the backoff alone (1 s at most)"
    else:
        assert outcome.countdown == retry_after, "no sooner than the server said"
    queued = refreshed(job)
    assert (queued.state, queued.attempts, queued.error_code) == ("queued", 1, "provider_error")
    # Due when the countdown ends, plus the relay's deadline (the database's clock).
    assert seconds_until(queued.lease_until) == pytest.approx(outcome.countdown + 60, abs=5)


def test_a_retry_after_is_capped_by_retry_backoff_max(
    make_job: MakeJob, kind_name: str, settings: Any
) -> None:
    settings.POSTLOGIN = {**settings.POSTLOGIN, "RETRY_BACKOFF_MAX": 30}

    @jobs.register(kind_name)
    def handler(job: Job) -> None:
        raise TransientFetchError("http_status", "HTTP 429", status=429, retry_after=86400)

    assert runner.run(make_job(kind=kind_name).pk).countdown == 30


def test_the_runner_applies_a_user_kinds_declared_rate_limit(
    make_job: MakeJob, kind_name: str, settings: Any
) -> None:
    key = f"api-{kind_name}"
    settings.POSTLOGIN = {
        **settings.POSTLOGIN,
        "RATE_LIMITS": {key: "1/minute"},
        "RATE_LIMIT_HEADROOM": 0,
    }
    calls: list[int] = []

    @jobs.register(kind_name, rate_limit_key=key)
    def handler(job: Job) -> None:
        calls.append(job.pk)

    first, second = make_job(kind=kind_name, key="1"), make_job(kind=kind_name, key="2")
    assert runner.run(first.pk).state == "done"
    outcome = runner.run(second.pk)
    assert calls == [first.pk], "over the limit, the handler is not called"
    assert outcome.state == "retry"
    assert outcome.countdown > 0
    waiting = refreshed(second)
    assert (waiting.state, waiting.attempts, waiting.error_code) == ("queued", 0, "rate_limited")
    assert f"rate limited: {key}" in waiting.last_error


def test_a_rate_limit_key_can_depend_on_the_job(
    make_job: MakeJob, kind_name: str, settings: Any
) -> None:
    settings.POSTLOGIN = {
        **settings.POSTLOGIN,
        "RATE_LIMITS": {f"{kind_name}:slow": "1/minute"},
        "RATE_LIMIT_HEADROOM": 0,
    }
    jobs.register(kind_name, rate_limit_key=lambda job: f"{kind_name}:{job.payload['host']}")(
        lambda job: None
    )
    slow = [make_job(kind=kind_name, key=f"s{n}", payload={"host": "slow"}) for n in range(2)]
    fast = [make_job(kind=kind_name, key=f"f{n}", payload={"host": "fast"}) for n in range(3)]
    states = [runner.run(job.pk).state for job in slow + fast]
    assert states == ["done", "retry", "done", "done", "done"], "only the slow host is limited"


def test_a_completion_commits_with_the_job(make_job: MakeJob, kind_name: str, user: Any) -> None:
    @jobs.register(kind_name)
    def handler(job: Job) -> jobs.Completion:
        def record() -> None:
            Profile.objects.filter(user_id=job.user_id).update(synced_name="completed")

        Profile.for_user_id(job.user_id)
        return record

    job = make_job(kind=kind_name)
    assert runner.run(job.pk).state == "done"
    assert refreshed(job).state == "done"
    assert Profile.objects.get(user=user).synced_name == "completed"


def test_a_completion_is_not_recorded_when_the_claim_was_lost(
    make_job: MakeJob, kind_name: str, user: Any
) -> None:
    taken_over: list[Job] = []

    @jobs.register(kind_name)
    def handler(job: Job) -> jobs.Completion:
        Profile.for_user_id(job.user_id)
        # The lease runs out mid-run and another worker claims the job.
        Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        other = ledger.claim(job.pk)
        assert other is not None
        taken_over.append(other)
        return lambda: Profile.objects.filter(user_id=job.user_id).update(synced_name="twice")

    job = make_job(kind=kind_name)
    assert runner.run(job.pk).state == "lost"
    assert Profile.objects.get(user=user).synced_name == "", "the effect went with the fence"
    row = refreshed(job)
    assert (row.state, row.claims) == ("running", taken_over[0].claims)


def test_a_failing_completion_rolls_back_the_jobs_completion(
    make_job: MakeJob, kind_name: str, user: Any
) -> None:
    def fail() -> None:
        Profile.objects.filter(user_id=user.pk).update(synced_name="half")
        raise ConnectionError("the effect's store went away")

    Profile.for_user_id(user.pk)
    jobs.register(kind_name)(lambda job: fail)
    job = make_job(kind=kind_name)
    assert runner.run(job.pk).state == "retry"
    row = refreshed(job)
    assert (row.state, row.error_code) == ("queued", "unreachable")
    assert Profile.objects.get(user=user).synced_name == "", "nothing of the completion is kept"


def test_the_welcome_email_is_recorded_by_its_completion(user: Any, mailoutbox: Any) -> None:
    from postlogin.kinds.welcome_email import welcome_email

    job = Job.objects.create(
        user=user, kind=kinds.WELCOME_EMAIL, key="once", payload={"verified_email": user.email}
    )
    completion = welcome_email(job)
    assert len(mailoutbox) == 1
    assert Profile.for_user_id(user.pk).welcomed_at is None, "not before the job is done"
    assert completion is not None
    completion()
    assert Profile.for_user_id(user.pk).welcomed_at is not None


def test_retry_after_turns_a_header_into_the_wait_the_runner_honours() -> None:
    later = jobs.retry_after("30", "HTTP 429 from the provider")
    assert later is not None
    assert (later.countdown, later.counts_as_attempt, str(later)) == (
        30.0,
        True,
        "HTTP 429 from the provider",
    )
    in_a_minute = format_datetime(timezone.now() + timedelta(seconds=60), usegmt=True)
    dated = jobs.retry_after(in_a_minute, "HTTP 503")
    assert dated is not None
    assert dated.countdown == pytest.approx(60, abs=2)
    for unusable in (None, "", "soon", 30):
        assert jobs.retry_after(unusable, "no header") is None


def test_each_kind_name_constant_names_its_registered_kind() -> None:
    modules = {
        kinds.AVATAR: "postlogin.kinds.avatar",
        kinds.WELCOME_EMAIL: "postlogin.kinds.welcome_email",
        kinds.WEBHOOK: "postlogin.kinds.webhook",
        kinds.PROFILE_SYNC: "postlogin.kinds.profile_sync",
    }
    for name, module in modules.items():
        declared = import_module(module).KIND
        assert declared.name == name
        assert jobs.get_kind(name) == declared, f"{name} is registered at start-up"
    assert postlogin_settings.SIGNUP_JOBS == (kinds.WELCOME_EMAIL,)
    assert postlogin_settings.LOGIN_JOBS == (kinds.AVATAR,)


def test_built_in_rate_limit_keys() -> None:
    webhook, sync = jobs.get_kind(kinds.WEBHOOK), jobs.get_kind(kinds.PROFILE_SYNC)
    assert webhook is not None
    assert sync is not None
    assert webhook.rate_limit_for(Job(payload={"endpoint": "crm"})) == "webhook:crm"
    assert sync.rate_limit_for(Job(provider="github")) == "github"
    avatar = jobs.get_kind(kinds.AVATAR)
    assert avatar is not None
    assert avatar.rate_limit_for(Job()) is None


@pytest.mark.parametrize(
    ("old", "name"),
    [(old, name) for old, names in deprecation.MOVED.items() for name in names],
)
def test_an_old_import_path_warns_and_gives_the_moved_object(old: str, name: str) -> None:
    target, _, new_name = deprecation.MOVED[old][name].rpartition(".")
    with pytest.warns(
        deprecation.PostloginDeprecationWarning, match=f"{old}.{name} has moved to {target}"
    ):
        found = getattr(import_module(old), name)
    assert found is getattr(import_module(target), new_name)


def test_an_unknown_name_of_an_old_module_is_still_an_attribute_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no_such_name"):
            import_module("postlogin.dispatch").no_such_name  # noqa: B018
