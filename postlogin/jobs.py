"""The registry of job kinds, and the contract between a kind and the runner.

A job kind is a handler, ``handler(job)``, plus a planner that decides, for a login event,
whether the kind applies and under which idempotency key::

    from postlogin.jobs import JobSpec, register

    @register("crm_sync", plan=lambda event: JobSpec(key=event.login_id), rate_limit_key="crm")
    def crm_sync(job):
        ...

The contract, which :mod:`postlogin.runner` enforces:

- A handler returns (the job is done), or raises. What is raised is classified in one place,
  :func:`is_permanent`: :class:`PermanentJobError`, a permanent
  :class:`postlogin.http.FetchError` (refused address or redirect, bad URL, oversized or
  compressed body, a status outside :data:`postlogin.http.RETRIED_STATUSES`) and any error
  carrying such an HTTP status fail the job at once; :class:`RetryLater` and
  :class:`postlogin.http.TransientFetchError` retry it no sooner than their
  ``countdown``/``retry_after`` says, nor than the backoff; anything else is retried with
  backoff until the retry budget is spent.
- ``rate_limit_key`` (a string, or a function of the job) names the ``RATE_LIMITS`` budget the
  job's calls take from: the runner takes one call before calling the handler, and a job over
  the limit waits without using an attempt.
- A handler whose effect must be recorded together with the job's completion returns a
  zero-argument callable (a :data:`Completion`): the runner calls it inside the transaction that
  marks the job done. If the run lost its claim meanwhile, the completion is not called.
- Handlers never change the job's row: only the runner does (:mod:`postlogin.ledger`).

The built-in kinds live in :mod:`postlogin.kinds` and are registered when Django starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .deprecation import MOVED, renamed
from .events import LoginEvent
from .models import Job
from .net import RETRIED_STATUSES, FetchError, retry_after_seconds


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job is recorded ``failed`` at once.

    ``code`` is what the user is told (:mod:`postlogin.error_codes`); by default it is derived
    from the exception this one was raised from.
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.error_code = code


class RetryLater(Exception):
    """Run the job again in ``countdown`` seconds (a server's ``Retry-After``, a rate limit).

    With ``counts_as_attempt=False`` the run does not use up the retry budget: the job was not
    tried (it was over a rate limit), it did not fail. ``code``: as for
    :class:`PermanentJobError`.
    """

    def __init__(
        self, countdown: float, reason: str, *, counts_as_attempt: bool = True, code: str = ""
    ) -> None:
        super().__init__(reason)
        self.countdown = max(0.0, countdown)
        self.counts_as_attempt = counts_as_attempt
        self.error_code = code


def is_permanent(exc: BaseException) -> bool:
    """Whether the runner fails the job at once for ``exc``, without a retry: the one
    classification of a handler's errors.

    The first of ``exc`` and its explicit causes (``raise ... from``) that says decides:
    :class:`PermanentJobError` (yes), :class:`RetryLater` (no), a
    :class:`~postlogin.net.FetchError` (its ``permanent``), an error carrying an HTTP error
    status, as ``requests.HTTPError`` (``response.status_code``) and social-core's errors
    (``status_code``) do (yes, unless the status is one of
    :data:`~postlogin.net.RETRIED_STATUSES`). An error none of them explains is retried.
    """
    link: BaseException | None = exc
    for _depth in range(8):  # a cycle of causes, or a very long chain, stops here
        if link is None:
            return False
        if isinstance(link, PermanentJobError):
            return True
        if isinstance(link, RetryLater):
            return False
        if isinstance(link, FetchError):
            return link.permanent
        status = _http_status(link)
        if status is not None and status >= 400:
            return status not in RETRIED_STATUSES
        link = link.__cause__
    return False


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an error from an HTTP library carries, if any."""
    for status in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def retry_after(value: object, reason: str) -> RetryLater | None:
    """The error that makes the runner wait as a server's ``Retry-After`` header ``value`` says
    (seconds, or an HTTP date), or None when there is no such header or it cannot be read.

    For handlers whose HTTP calls go through another library (the login libraries' provider
    code), which hands the header over as it came::

        if (later := retry_after(response.headers.get("Retry-After"), str(exc))) is not None:
            raise later from exc
    """
    wait = retry_after_seconds(value) if isinstance(value, str) else None
    return None if wait is None else RetryLater(wait, reason)


@dataclass(frozen=True)
class JobSpec:
    """What to record for one kind of work: its idempotency key and plain-data payload."""

    key: str
    payload: dict[str, Any] = field(default_factory=dict)

    def row(self, *, user_id: int, kind: str, provider: str) -> Job:
        """The unsaved Job row of this work for ``user_id``."""
        return Job(
            user_id=user_id, kind=kind, key=self.key, provider=provider, payload=self.payload
        )


#: Called by the runner inside the transaction that marks the job done (see the module's doc).
Completion = Callable[[], object]
Handler = Callable[[Job], Completion | None]
#: Decides, for a login, the jobs of one kind: none, one, or several (one per endpoint...).
Planner = Callable[[LoginEvent], JobSpec | list[JobSpec] | None]
#: The ``RATE_LIMITS`` key a job's calls count against: one for the kind, or one per job.
RateLimitKey = str | Callable[[Job], str]


@dataclass(frozen=True)
class JobKind:
    """A kind of work: its name (``Job.kind``), handler, planner and rate-limit key."""

    name: str
    handler: Handler
    plan: Planner
    rate_limit_key: RateLimitKey | None = None

    def rate_limit_for(self, job: Job) -> str | None:
        """The ``RATE_LIMITS`` key ``job`` takes a call from before it runs, if any."""
        key = self.rate_limit_key
        return key(job) if callable(key) else key


#: The key of work done once per user. Its rows are kept when the ledger is pruned: the unique
#: ``(user, kind, key)`` row is what stops the work from being planned again.
ONCE = "once"


def once(event: LoginEvent) -> JobSpec:
    """Planner for work done once per user, whatever the number of logins."""
    return JobSpec(key=ONCE)


def every_login(event: LoginEvent) -> JobSpec:
    """Planner for work done on each login (the default)."""
    return JobSpec(key=event.login_id)


_registry: dict[str, JobKind] = {}


def add(kind: JobKind) -> None:
    """Register ``kind``; registering the same handler again under its name changes nothing."""
    if not kind.name or len(kind.name) > 64:
        raise ValueError(f"a job kind name must be 1 to 64 characters: {kind.name!r}")
    existing = _registry.get(kind.name)
    if existing is not None and existing.handler is not kind.handler:
        raise ValueError(f"job kind {kind.name!r} is already registered by {existing.handler!r}")
    _registry[kind.name] = kind


def register(
    name: str, *, plan: Planner = every_login, rate_limit_key: RateLimitKey | None = None
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the job kind ``name``; list the name in ``POSTLOGIN`` settings."""
    if not name or len(name) > 64:
        raise ValueError(f"a job kind name must be 1 to 64 characters: {name!r}")

    def decorator(handler: Handler) -> Handler:
        add(JobKind(name=name, handler=handler, plan=plan, rate_limit_key=rate_limit_key))
        return handler

    return decorator


def get_kind(name: str) -> JobKind | None:
    return _registry.get(name)


def registered_kinds() -> list[str]:
    return sorted(_registry)


def unregister(name: str) -> None:
    """Remove a kind (for tests)."""
    _registry.pop(name, None)


# The built-in kinds lived here before postlogin.kinds.
__getattr__ = renamed(__name__, MOVED[__name__])
