"""The runner's one classification of a handler's errors (postlogin.jobs.is_permanent): what
can never succeed fails after one attempt; what may succeed later is retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from social_core.backends.github import GithubOAuth2
from social_core.utils import http_error

from postlogin import jobs, runner
from postlogin.models import Job
from postlogin.net import FetchError, TransientFetchError

pytestmark = pytest.mark.django_db

MakeJob = Callable[..., Job]


def http_failure(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.url = "https://api.example.com/user"
    return requests.HTTPError(f"{status} Client Error", response=response)


def social_core_failure(status: int) -> Exception:
    """What social-core raises for an HTTP error answer from a provider (user info, refresh)."""
    return http_error(GithubOAuth2(), http_failure(status))


def chained(cause: Exception) -> Exception:
    try:
        raise cause
    except Exception as exc:
        try:
            raise RuntimeError("the provider call failed") from exc
        except RuntimeError as wrapped:
            return wrapped


PERMANENT = [
    ("refused address", FetchError("address_not_allowed", "10.1.2.3 is private")),
    ("refused redirect", FetchError("bad_redirect", "302 without a Location", status=302)),
    ("bad URL", FetchError("bad_url", "not a valid URL")),
    ("oversized body", FetchError("too_large", "over the cap", status=200)),
    ("compressed body", FetchError("unexpected_encoding", "gzip", status=200)),
    ("status outside the list", FetchError("http_status", "HTTP 501", status=501)),
    ("requests 404", http_failure(404)),
    ("requests 501", http_failure(501)),
    ("social-core 404", social_core_failure(404)),
    ("a cause that is permanent", chained(FetchError("address_not_allowed", "private"))),
    ("PermanentJobError", jobs.PermanentJobError("hopeless")),
]
RETRIED = [
    ("timeout", TransientFetchError("timeout", "timed out")),
    ("connection error", TransientFetchError("connection_error", "refused")),
    ("transient status", TransientFetchError("http_status", "HTTP 503", status=503)),
    ("requests 425", http_failure(425)),
    ("requests 503", http_failure(503)),
    ("social-core 429", social_core_failure(429)),
    ("social-core 502", social_core_failure(502)),
    ("a cause that is transient", chained(TransientFetchError("timeout", "timed out"))),
    ("RetryLater", jobs.RetryLater(5, "later")),
    ("any other exception", ValueError("a bug, or a library's error without a status")),
    ("requests without a response", requests.ConnectionError("reset")),
]


def run_raising(make_job: MakeJob, kind_name: str, error: Exception) -> tuple[str, Job]:
    """Run once a job whose handler raises ``error``: the outcome's state, and the row."""

    @jobs.register(kind_name)
    def handler(job: Job) -> None:
        raise error

    job = make_job(kind=kind_name)
    return runner.run(job.pk).state, Job.objects.get(pk=job.pk)


@pytest.mark.parametrize(("what", "error"), PERMANENT, ids=[what for what, _ in PERMANENT])
def test_an_error_that_can_never_succeed_fails_after_one_attempt(
    make_job: MakeJob, kind_name: str, what: str, error: Exception
) -> None:
    state, row = run_raising(make_job, kind_name, error)
    assert (state, row.state, row.attempts) == ("failed", "failed", 1)


@pytest.mark.parametrize(("what", "error"), RETRIED, ids=[what for what, _ in RETRIED])
def test_an_error_that_may_pass_is_retried(
    make_job: MakeJob, kind_name: str, what: str, error: Exception
) -> None:
    state, row = run_raising(make_job, kind_name, error)
    assert (state, row.state, row.attempts) == ("retry", "queued", 1)


def test_the_classification_stops_on_a_cycle_of_causes() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert jobs.is_permanent(first) is False


def test_a_status_that_is_not_an_error_decides_nothing() -> None:
    error: Any = ValueError("carries a 200")
    error.status_code = 200
    assert jobs.is_permanent(error) is False
    error.status_code = True  # not a status
    assert jobs.is_permanent(error) is False
