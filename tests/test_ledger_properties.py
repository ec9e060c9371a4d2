"""The ledger as a state machine, explored by hypothesis against the real database.

Rules: record, publish, deliver (a message may be delivered twice, and late), a handler that
succeeds, fails for a while, fails for good or kills its worker, claims held by slow workers
that finish late, lease expiry, relay, replay. Invariants: a job's effect is recorded at most
once; a stale claim records nothing; ``attempts`` stays within the budget; ``claims`` only
grows; the relay never re-publishes a job whose current claim is live; and once the workers
keep up, every job ends ``done`` or ``failed``.

The example budget comes from the hypothesis profile (``HYPOTHESIS_PROFILE``, see conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db.models.functions import Now
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from postlogin import dispatch, jobs, ledger, runner
from postlogin.models import Job

from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db(transaction=True)
MAX_RETRIES = 1
OUTCOMES = ("ok", "transient", "permanent", "kill")


class WorkerKilled(BaseException):
    """The worker process died mid-run: nothing after the handler runs (not an Exception, so
    the runner does not record it)."""


class Ledger(RuleBasedStateMachine):
    user: Any = None
    #: What the handler's current run does.
    action: str = "ok"
    #: run_job messages in the broker, in no particular order of delivery.
    messages: list[int]
    #: Handler effects recorded (a run that ended ``done``), per job.
    effects: dict[int, int]
    #: Claims held by slow workers that have not reported yet.
    held: list[Job]
    #: The highest ``claims`` seen per job.
    fences: dict[int, int]

    jobs = Bundle("jobs")

    @initialize()
    def fresh_ledger(self) -> None:
        Job.objects.all().delete()
        self.messages, self.effects, self.held, self.fences = [], {}, [], {}

    # --- rules ---------------------------------------------------------------------------------

    @rule(target=jobs, key=st.integers(0, 1))
    def record(self, key: int) -> int:
        job, _created = Job.objects.get_or_create(user=self.user, kind="prop", key=str(key))
        return job.pk

    @rule(job=jobs)
    def publish(self, job: int) -> None:
        ledger.mark_published([job])
        self.messages.append(job)

    @precondition(lambda self: self.messages)
    @rule(data=st.data(), again=st.booleans(), action=st.sampled_from(OUTCOMES))
    def deliver(self, data: st.DataObject, again: bool, action: str) -> None:
        """A worker receives a message (any of them: late ones too) and the handler does
        ``action``; ``again`` leaves a copy in the broker, as a redelivery would."""
        index = data.draw(st.integers(0, len(self.messages) - 1))
        job_id = self.messages[index] if again else self.messages.pop(index)
        self._run(job_id, action)

    @rule(job=jobs)
    def claim_and_hold(self, job: int) -> None:
        """A slow worker claims the job and has not reported yet."""
        claimed = ledger.claim(job)
        if claimed is not None and claimed.state == Job.State.RUNNING:
            self.held.append(claimed)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), outcome=st.sampled_from(("done", "failed", "retry")))
    def held_claim_reports(self, data: st.DataObject, outcome: str) -> None:
        """A slow worker reports, perhaps long after its lease ran out."""
        claim = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
        row = Job.objects.get(pk=claim.pk)
        current = row.state == Job.State.RUNNING and row.claims == claim.claims
        if outcome == "done":
            recorded = ledger.mark_done(claim)
            self.effects[claim.pk] = self.effects.get(claim.pk, 0) + recorded
        elif outcome == "failed":
            recorded = ledger.mark_failed(claim, "PermanentJobError: late")
        else:
            recorded = ledger.mark_retry(claim, "ConnectionError: late", 0)
            if recorded:
                self.messages.append(claim.pk)
        assert recorded == current, "only the current claim records an outcome"

    @rule()
    def leases_expire(self) -> None:
        """Time passes: every lease and queue deadline runs out."""
        Job.objects.filter(state__in=["queued", "running"]).update(
            lease_until=Now() - timedelta(seconds=1)
        )

    @rule()
    def relay(self) -> None:
        live = set(
            Job.objects.filter(state="running", lease_until__gte=Now()).values_list("pk", flat=True)
        )
        sent = dispatch.relay()
        assert not live & set(sent), "a job re-published while its claim is live"

    @precondition(lambda self: Job.objects.filter(state="failed").exists())
    @rule()
    def replay(self) -> None:
        ledger.replay(Job.objects.all())  # the failed ones; publishes into self.messages

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def effects_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.effects.values()), self.effects

    @invariant()
    def attempts_within_budget_and_fences_only_grow(self) -> None:
        for pk, attempts, claims in Job.objects.values_list("pk", "attempts", "claims"):
            assert attempts <= MAX_RETRIES + 1
            assert claims >= self.fences.get(pk, 0), "a fence went back"
            self.fences[pk] = claims

    @invariant()
    def only_the_current_claim_is_fenced_in(self) -> None:
        """What a held claim would record goes through its fence: open only while it is the
        row's current claim (checked after every step, without using the claim up)."""
        for claim in self.held:
            row = Job.objects.get(pk=claim.pk)
            current = row.state == Job.State.RUNNING and row.claims == claim.claims
            assert ledger._fenced(claim).exists() == current, (claim.claims, row.claims)

    def teardown(self) -> None:
        """The workers keep up from now on (slow ones died): every job ends done or failed."""
        self.held.clear()
        for _round in range(4 * (MAX_RETRIES + 2)):
            self.leases_expire()
            self.relay()
            while self.messages:
                self._run(self.messages.pop(), "ok")
            self.effects_at_most_once()
            if not Job.objects.exclude(state__in=["done", "failed"]).exists():
                return
        states = list(Job.objects.values_list("pk", "state", "attempts", "claims"))
        raise AssertionError(f"jobs left unfinished: {states}")

    # --- helpers -------------------------------------------------------------------------------

    def _run(self, job_id: int, action: str) -> None:
        self.action = action
        try:
            outcome = runner.run(job_id)
        except WorkerKilled:
            return  # the row stays running until its lease runs out
        if outcome.state == "done":
            self.effects[job_id] = self.effects.get(job_id, 0) + 1
        elif outcome.state == "retry":
            self.messages.append(job_id)  # Celery's retry: the same message, later

    def handle(self, job: Job) -> None:
        action = self.action
        if action == "transient":
            raise ConnectionError("provider unreachable")
        if action == "permanent":
            raise jobs.PermanentJobError("bad input")
        if action == "kill":
            raise WorkerKilled


@pytest.fixture
def ledger_machine(
    user: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[Ledger]]:
    settings.POSTLOGIN = {
        **TEST_POSTLOGIN,
        "MAX_RETRIES": MAX_RETRIES,
        "RETRY_BACKOFF": 0,
        "RELAY_PENDING_AFTER": 0,
    }
    current: list[Ledger] = []

    class Machine(Ledger):
        def __init__(self) -> None:
            super().__init__()
            current[:] = [self]

    Machine.user = user

    def send(job_id: int, producer: Any = None) -> None:
        current[0].messages.append(job_id)

    monkeypatch.setattr(dispatch, "send_run_job", send)
    monkeypatch.setattr(dispatch, "send_run_jobs", lambda ids: current[0].messages.extend(ids))
    jobs.register("prop", plan=jobs.once)(lambda job: current[0].handle(job))
    yield Machine
    jobs.unregister("prop")


def test_the_ledger_keeps_its_promises_whatever_the_order(ledger_machine: type[Ledger]) -> None:
    run_state_machine_as_test(ledger_machine)
