"""Run a job through the real runner, synchronously, and look at what became of it.

:func:`run_job` calls :func:`postlogin.runner.run` (claim, rate limit, handler, outcome) again
and again until the job is ``done`` or ``failed``, in the test's own process and database
transaction: no broker, no worker, no Celery eager mode (whose retries run inline, outside the
runner, and hide the attempt count). A retry's countdown is not slept: in production it is the
Celery message's ETA, which is not the ledger's to enforce, so the next run follows at once and
the countdowns asked for are kept in :attr:`JobRun.countdowns`. Everything else is as in a
worker: the attempt budget (``MAX_RETRIES``), the error classification, the completion hook, the
signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import runner
from ..dispatch import record_jobs
from ..events import LoginEvent
from ..models import Job
from . import http

#: States after which the runner leaves a job alone.
FINAL_STATES = (Job.State.DONE, Job.State.FAILED)


@dataclass(frozen=True)
class JobRun:
    """What :func:`run_job` saw: the job's row at the end and each run's outcome."""

    job: Job
    outcomes: tuple[runner.Outcome, ...]
    #: The guarded client's calls during the runs (inside :func:`~.http.canned_responses`).
    calls: tuple[http.Call, ...]

    @property
    def state(self) -> str:
        return str(self.job.state)

    @property
    def attempts(self) -> int:
        """Attempts used from the budget (a rate-limited run uses none)."""
        return self.job.attempts

    @property
    def error_code(self) -> str:
        return self.job.error_code

    @property
    def last_error(self) -> str:
        return self.job.last_error

    @property
    def countdowns(self) -> list[float]:
        """The wait, in seconds, each retry asked for (backoff, ``Retry-After``, rate limit)."""
        return [outcome.countdown for outcome in self.outcomes if outcome.state == "retry"]

    def assert_done(self, *, attempts: int | None = None) -> None:
        """Fail unless the job is ``done`` (after exactly ``attempts`` attempts, if given)."""
        self._assert(Job.State.DONE, attempts, None)

    def assert_failed(self, *, attempts: int | None = None, error_code: str | None = None) -> None:
        """Fail unless the job is ``failed`` (after ``attempts``, with ``error_code``)."""
        self._assert(Job.State.FAILED, attempts, error_code)

    def _assert(self, state: str, attempts: int | None, error_code: str | None) -> None:
        seen = (self.state, self.attempts, self.error_code)
        wanted = (
            state,
            self.attempts if attempts is None else attempts,
            self.error_code if error_code is None else error_code,
        )
        assert seen == wanted, (
            f"job {self.job.pk} ({self.job.kind}): state, attempts, error_code are {seen}, "
            f"expected {wanted}; last_error: {self.last_error!r}"
        )


def run_job(job: Job | int, *, max_runs: int = 100) -> JobRun:
    """Run ``job`` (a row or its id) through the runner until it is done or failed.

    Raises ``AssertionError`` if it is neither after ``max_runs`` runs (a rate limit that never
    frees, say), or if a run finds it not claimable (already finished, or running elsewhere).
    """
    job_id = job if isinstance(job, int) else job.pk
    canned = http.active[-1] if http.active else None
    first_call = len(canned.calls) if canned else 0
    outcomes: list[runner.Outcome] = []
    for _run in range(max_runs):
        outcome = runner.run(job_id)
        outcomes.append(outcome)
        if outcome.state not in ("retry",):
            break
    row = Job.objects.get(pk=job_id)
    result = JobRun(
        job=row,
        outcomes=tuple(outcomes),
        calls=tuple(canned.calls[first_call:]) if canned else (),
    )
    if row.state not in FINAL_STATES:
        raise AssertionError(
            f"job {job_id} ({row.kind}) is {row.state} after {len(outcomes)} runs "
            f"(outcomes: {[o.state for o in outcomes]}); last_error: {row.last_error!r}"
        )
    return result


def record_login(event: LoginEvent, *, kinds: Sequence[str] | None = None) -> list[Job]:
    """Record the jobs the settings plan for ``event`` (``LOGIN_JOBS``, and ``SIGNUP_JOBS``
    for a signup), as a login does, without publishing them; the rows of ``kinds`` only, if
    given. Each row is ready for :func:`run_job`."""
    ids = record_jobs(event).ids
    rows = Job.objects.filter(pk__in=ids).order_by("pk")
    return [row for row in rows if kinds is None or row.kind in kinds]
