"""A login's jobs: the kinds the settings ask for, planned for the
:class:`~postlogin.events.LoginEvent` and recorded through :mod:`postlogin.enqueue` (rows in the
login's transaction, messages after the commit)."""

from __future__ import annotations

from .conf import postlogin_settings
from .deprecation import MOVED, renamed
from .enqueue import enqueue, record
from .events import LoginEvent
from .jobs import get_kind
from .kinds import WEBHOOK
from .models import Job
from .publish import Recorded
from .scrub import get_logger

logger = get_logger(__name__)


def kinds_for(event: LoginEvent) -> list[str]:
    """The job kind names the settings ask for on this login, each once, in order."""
    names = list(postlogin_settings.LOGIN_JOBS)
    if event.is_new:
        names += postlogin_settings.SIGNUP_JOBS
    if postlogin_settings.WEBHOOKS:
        names.append(WEBHOOK)  # its planner picks the endpoints this event goes to
    return list(dict.fromkeys(names))


def planned_jobs(event: LoginEvent) -> list[Job]:
    """The event's Job rows, unsaved: each kind's plan for it."""
    planned: list[Job] = []
    for name in kinds_for(event):
        kind = get_kind(name)
        if kind is None:
            logger.error("postlogin: no job kind %r is registered; it was not scheduled", name)
            continue
        planned_specs = kind.plan(event)
        specs = planned_specs if isinstance(planned_specs, list) else [planned_specs]
        planned.extend(
            spec.row(user_id=event.user_id, kind=name, provider=event.provider)
            for spec in specs
            if spec is not None
        )
    return planned


def record_jobs(event: LoginEvent) -> Recorded:
    """Insert the event's Job rows (conflicts ignored); return those to publish."""
    return record(planned_jobs(event))


def dispatch(event: LoginEvent) -> list[int]:
    """Record the event's jobs now and publish them once the transaction commits."""
    return enqueue(planned_jobs(event))


# Publishing lived here before postlogin.publish.
__getattr__ = renamed(__name__, MOVED[__name__])
