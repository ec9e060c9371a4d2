"""The built-in ``webhook`` job kind: the login, signed per Standard Webhooks, POSTed to each
endpoint in ``POSTLOGIN["WEBHOOKS"]``.

The body is ``{"type": "user.signed_up" | "user.logged_in", "timestamp": ..., "data": {...}}``
with the user id, provider and normalised profile (never tokens). ``webhook-id`` is chosen when
the job is recorded, so every retry carries the same one and receivers can de-duplicate.
Delivery is decided by :func:`postlogin.http.raise_for_outcome`, as for any kind that calls out:
2xx is done; :data:`postlogin.http.RETRIED_STATUSES` are retried with backoff, no sooner than the
``Retry-After`` header says (the runner honours the error's ``retry_after``); any other status
fails at once (the receiver refused the message), as does an endpoint the address guard
refuses. Each endpoint has its own rate-limit key, ``webhook:<name>``, which the runner applies.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from .. import http
from ..conf import postlogin_settings
from ..events import LoginEvent
from ..jobs import JobKind, JobSpec, PermanentJobError
from ..models import Job
from ..webhooks import signed_headers
from . import WEBHOOK

SIGNUP, LOGIN = "signup", "login"
EVENT_TYPES = {SIGNUP: "user.signed_up", LOGIN: "user.logged_in"}


def endpoint(name: str) -> dict[str, Any] | None:
    for configured in postlogin_settings.WEBHOOKS:
        if configured["name"] == name:
            return dict(configured)
    return None


def plan_webhooks(event: LoginEvent) -> list[JobSpec]:
    happened = [SIGNUP, LOGIN] if event.is_new else [LOGIN]
    timestamp = datetime.now(UTC).isoformat()
    specs = []
    for configured in postlogin_settings.WEBHOOKS:
        for what in happened:
            if what not in configured.get("events", (SIGNUP, LOGIN)):
                continue
            body = {
                "type": EVENT_TYPES[what],
                "timestamp": timestamp,
                "data": {
                    "user_id": event.user_id,
                    "provider": event.provider,
                    "login_id": event.login_id,
                    "profile": asdict(event.profile),
                },
            }
            specs.append(
                JobSpec(
                    key=f"{configured['name']}:{what}:{event.login_id}",
                    payload={
                        "endpoint": configured["name"],
                        "msg_id": f"msg_{uuid.uuid4().hex}",
                        "body": body,
                    },
                )
            )
    return specs


def rate_limit_key(job: Job) -> str:
    """Each endpoint's own budget: ``RATE_LIMITS = {"webhook:<name>": ...}``."""
    return f"webhook:{job.payload.get('endpoint', '')}"


def deliver_webhook(job: Job) -> None:
    name = str(job.payload.get("endpoint", ""))
    configured = endpoint(name)
    if configured is None:
        raise PermanentJobError(f"no webhook endpoint named {name!r} in POSTLOGIN['WEBHOOKS']")
    body = json.dumps(job.payload["body"], separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(configured["secret"], str(job.payload["msg_id"]), body),
    }
    response = http.post(configured["url"], body=body, headers=headers)
    http.raise_for_outcome(response, what=f"webhook {name}")


KIND = JobKind(
    name=WEBHOOK, handler=deliver_webhook, plan=plan_webhooks, rate_limit_key=rate_limit_key
)
