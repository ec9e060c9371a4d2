"""The ledger as a state machine, explored by hypothesis against the real database.

Rules: record (a login whose message did not go out), log in (the real dispatch: record and
publish, re-planning work whose row a prune deleted), publish, deliver (a message may be
delivered twice, and late), a handler that succeeds, fails for a while, fails for good or kills
its worker, claims held by slow workers that finish late, lease expiry, the broker losing its
messages, relay (with its markers, run by a worker once the messages before them were taken),
replay, and prune (finished rows aged past their retention by the database's clock).

Invariants: a job's effect is recorded at most once, and work keyed ``jobs.ONCE`` at most once
ever, pruned or not; a stale claim records nothing; ``attempts`` stays within the budget;
``claims`` only grows; the relay never re-publishes a job whose current claim is live; a prune
deletes exactly the aged finished rows not keyed ``ONCE``. Once the workers keep up, relay
markers alone bring back every lost message (no lease has to run out), and then every job
recorded ends ``done`` or ``failed``, or was pruned after it ended.

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

from postlogin import dispatch, enqueue, jobs, ledger, markers, prune, publish, runner
from postlogin.events import LoginEvent, ProviderProfile
from postlogin.models import Job, RelayMarker

from .settings import TEST_POSTLOGIN

pytestmark = pytest.mark.django_db(transaction=True)
MAX_RETRIES = 1
OUTCOMES = ("ok", "transient", "permanent", "kill")
#: Idempotency keys of the machine's work: two that may run again once pruned, and ``once``.
KEYS = ("a", "b", jobs.ONCE)
#: ``PRUNE_DONE_AFTER`` and ``PRUNE_FAILED_AFTER`` of the machine, in seconds.
RETENTION = 3600
JOB, MARKER = "run_job", "relay_marker"


class WorkerKilled(BaseException):
    """The worker process died mid-run: nothing after the handler runs (not an Exception, so
    the runner does not record it)."""


class Ledger(RuleBasedStateMachine):
    user: Any = None
    #: What the handler's current run does.
    action: str = "ok"
    #: The broker's queue, in publishing order: ``(sequence, JOB or MARKER, id)``. Job messages
    #: are delivered in any order (several workers, prefetch); a marker runs once every message
    #: published before it was taken, as a queue delivers first in, first out.
    broker: list[tuple[int, str, int]]
    sequence: int
    #: Handler effects recorded (a run that ended ``done``), per job, and for ``ONCE`` work.
    effects: dict[int, int]
    once_effects: int
    #: Every job recorded, with its key; the ones a prune deleted.
    keys: dict[int, str]
    pruned: set[int]
    #: Claims held by slow workers that have not reported yet.
    held: list[Job]
    #: The highest ``claims`` seen per job.
    fences: dict[int, int]

    jobs = Bundle("jobs")

    @initialize()
    def fresh_ledger(self) -> None:
        Job.objects.all().delete()
        RelayMarker.objects.all().delete()
        self.broker, self.sequence, self.effects, self.once_effects = [], 0, {}, 0
        self.keys, self.pruned, self.held, self.fences = {}, set(), [], {}

    # --- rules ---------------------------------------------------------------------------------

    @rule(target=jobs, key=st.sampled_from(KEYS))
    def record(self, key: str) -> int:
        """A login recorded the work, and its message did not go out: ``pending``."""
        job, _created = Job.objects.get_or_create(user=self.user, kind="prop", key=key)
        self.keys[job.pk] = key
        return job.pk

    @rule(target=jobs, key=st.sampled_from(KEYS))
    def log_in(self, key: str) -> int:
        """A login plans the work: the real dispatch records it and publishes it."""
        return self._log_in(key)

    @precondition(lambda self: self.pruned)
    @rule(target=jobs, data=st.data())
    def log_in_after_prune(self, data: st.DataObject) -> int:
        """A login plans work whose row was pruned (a new job, which may run), or ``once``
        work (which must not run again, pruned or not)."""
        gone = sorted({self.keys[pk] for pk in self.pruned} | {jobs.ONCE})
        return self._log_in(data.draw(st.sampled_from(gone)))

    @rule(job=jobs)
    def publish(self, job: int) -> None:
        ledger.mark_queued([job])
        self._send(JOB, job)

    @precondition(lambda self: self._job_messages())
    @rule(data=st.data(), again=st.booleans(), action=st.sampled_from(OUTCOMES))
    def deliver(self, data: st.DataObject, again: bool, action: str) -> None:
        """A worker receives a message (any of them: late ones too) and the handler does
        ``action``; ``again`` leaves a copy in the broker, as a redelivery would."""
        waiting = self._job_messages()
        message = waiting[data.draw(st.integers(0, len(waiting) - 1))]
        if not again:
            self.broker.remove(message)
        self._run(message[2], action)

    @precondition(lambda self: self.broker and self.broker[0][1] == MARKER)
    @rule()
    def worker_runs_marker(self) -> None:
        """The marker at the head of the queue reaches a worker, which records it seen."""
        _sequence, _kind, marker_id = self.broker.pop(0)
        markers.record_seen(marker_id)

    @rule()
    def broker_loses_messages(self) -> None:
        """The broker restarts without persistence: every message and marker in it is lost."""
        self.broker.clear()

    @rule(job=jobs)
    def claim_and_hold(self, job: int) -> None:
        """A slow worker claims the job and has not reported yet."""
        claimed = ledger.claim(job)
        if claimed is not None and claimed.state == Job.State.RUNNING:
            self.held.append(claimed)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), outcome=st.sampled_from(("done", "failed", "retry")))
    def held_claim_reports(self, data: st.DataObject, outcome: str) -> None:
        """A slow worker reports, perhaps long after its lease ran out (or its job was pruned)."""
        claim = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
        current = self._is_current(claim)
        if outcome == "done":
            recorded = ledger.mark_done(claim)
            if recorded:
                self._effect(claim.pk)
        elif outcome == "failed":
            recorded = ledger.mark_failed(claim, "PermanentJobError: late")
        else:
            recorded = ledger.mark_retry(claim, "ConnectionError: late", 0)
            if recorded:
                self._send(JOB, claim.pk)
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
        sent = publish.relay()  # its messages and marker go into self.broker
        assert not live & set(sent), "a job re-published while its claim is live"

    @precondition(lambda self: Job.objects.filter(state="failed").exists())
    @rule()
    def replay(self) -> None:
        enqueue.replay(Job.objects.all())  # the failed ones; publishes into self.broker

    @rule(data=st.data())
    def prune_aged(self, data: st.DataObject) -> None:
        """Some finished rows grow older than their retention (by the database's clock), and a
        prune runs: exactly those not keyed ``once`` are deleted."""
        finished = sorted(Job.objects.filter(state__in=["done", "failed"]).values_list("pk", "key"))
        aged = data.draw(st.lists(st.sampled_from(finished), unique=True)) if finished else []
        Job.objects.filter(pk__in=[pk for pk, _key in aged]).update(
            updated_at=Now() - timedelta(seconds=RETENTION + 60)
        )
        before = set(Job.objects.values_list("pk", flat=True))
        pruned = prune.prune(batch_size=1)
        gone = before - set(Job.objects.values_list("pk", flat=True))
        self.pruned |= gone
        assert gone == {pk for pk, key in aged if key != jobs.ONCE}, (gone, aged)
        assert pruned.total == len(gone)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def effects_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.effects.values()), self.effects
        assert self.once_effects <= 1, "once-per-user work ran again"

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
            assert ledger._fenced(claim).exists() == self._is_current(claim), claim.claims

    def teardown(self) -> None:
        """The workers keep up from now on (slow ones died). First, before any lease runs out,
        the relay's markers bring back every message the broker lost; then, as leases run
        out, every job ends done or failed (or was pruned after it ended)."""
        self.held.clear()
        for _round in range(4):
            self.relay()
            self._drain()
        waiting = Job.objects.filter(state__in=["pending", "queued"])
        assert not waiting.exists(), f"lost messages not re-published: {list(waiting.values())}"
        for _round in range(4 * (MAX_RETRIES + 2)):
            self.leases_expire()
            self.relay()
            self._drain()
            if not Job.objects.exclude(state__in=["done", "failed"]).exists():
                break
        states = dict(Job.objects.values_list("pk", "state"))
        unfinished = {
            pk: states.get(pk)
            for pk in self.keys
            if states.get(pk) not in ("done", "failed") and pk not in self.pruned
        }
        assert not unfinished, f"jobs left unfinished: {unfinished}"

    # --- helpers -------------------------------------------------------------------------------

    def _log_in(self, key: str) -> int:
        event = LoginEvent(self.user.pk, "google", False, ProviderProfile(), login_id=key)
        dispatch.dispatch(event)  # publishes on commit: at once, outside a transaction
        pk: int = Job.objects.get(user=self.user, kind="prop", key=key).pk
        self.keys[pk] = key
        return pk

    def _send(self, kind: str, ident: int) -> None:
        self.sequence += 1
        self.broker.append((self.sequence, kind, ident))

    def _job_messages(self) -> list[tuple[int, str, int]]:
        return [message for message in self.broker if message[1] == JOB]

    def _drain(self) -> None:
        """Workers take every message, first in first out; each handler succeeds."""
        while self.broker:
            _sequence, kind, ident = self.broker.pop(0)
            if kind == MARKER:
                markers.record_seen(ident)
            else:
                self._run(ident, "ok")
            self.effects_at_most_once()

    def _is_current(self, claim: Job) -> bool:
        row = Job.objects.filter(pk=claim.pk).first()  # None once pruned
        return row is not None and row.state == Job.State.RUNNING and row.claims == claim.claims

    def _effect(self, job_id: int) -> None:
        self.effects[job_id] = self.effects.get(job_id, 0) + 1
        if self.keys[job_id] == jobs.ONCE:
            self.once_effects += 1

    def _run(self, job_id: int, action: str) -> None:
        self.action = action
        try:
            outcome = runner.run(job_id)
        except WorkerKilled:
            return  # the row stays running until its lease runs out
        if outcome.state == "done":
            self._effect(job_id)
        elif outcome.state == "retry":
            self._send(JOB, job_id)  # Celery's retry: the same message, later

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
        "LOGIN_JOBS": ["prop"],
        "SIGNUP_JOBS": [],
        "PRUNE_DONE_AFTER": RETENTION,
        "PRUNE_FAILED_AFTER": RETENTION,
    }
    current: list[Ledger] = []

    class Machine(Ledger):
        def __init__(self) -> None:
            super().__init__()
            current[:] = [self]

    Machine.user = user

    def send(job_id: int, producer: Any = None) -> None:
        current[0]._send(JOB, job_id)

    def send_all(job_ids: list[int]) -> None:
        for job_id in job_ids:
            send(job_id)

    monkeypatch.setattr(publish, "send_run_job", send)
    monkeypatch.setattr(publish, "send_run_jobs", send_all)
    monkeypatch.setattr(
        publish, "send_marker", lambda marker_id: current[0]._send(MARKER, marker_id)
    )

    def plan(event: LoginEvent) -> jobs.JobSpec:
        """The work is keyed by the login's id, which the machine picks: logins re-plan keys."""
        return jobs.JobSpec(key=event.login_id)

    jobs.register("prop", plan=plan)(lambda job: current[0].handle(job))
    yield Machine
    jobs.unregister("prop")


def test_the_ledger_keeps_its_promises_whatever_the_order(ledger_machine: type[Ledger]) -> None:
    run_state_machine_as_test(ledger_machine)
