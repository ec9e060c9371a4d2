"""A Celery beat schedule for postlogin's periodic tasks (no django-celery-beat needed)."""

from __future__ import annotations

from typing import Any


def beat_schedule(*, relay_every: float = 5.0) -> dict[str, dict[str, Any]]:
    """Entries to merge into ``CELERY_BEAT_SCHEDULE``.

    The relay's own messages expire after one period, so a beat that ran while no worker was
    up does not leave a pile of identical relay runs behind it.
    """
    if relay_every <= 0:
        raise ValueError("relay_every must be a positive number of seconds")
    return {
        "postlogin-relay-pending": {
            "task": "postlogin.relay_pending",
            "schedule": relay_every,
            "options": {"expires": relay_every},
        },
    }
