"""A Celery beat schedule for postlogin's periodic tasks (no django-celery-beat needed)."""

from __future__ import annotations

from typing import Any


def beat_schedule(
    *,
    relay_every: float = 5.0,
    clear_partials_every: float = 600.0,
    resync_every: float | None = 3600.0,
    prune_every: float | None = 3600.0,
) -> dict[str, dict[str, Any]]:
    """Entries to merge into ``CELERY_BEAT_SCHEDULE``.

    ``prune_every`` runs ``postlogin.prune`` (old done and failed jobs, see
    :mod:`postlogin.prune`); ``None`` leaves it out, as ``resync_every=None`` does the re-sync.
    Each message expires after one period, so a beat that ran while no worker was up does
    not leave a pile of identical runs behind it.
    """
    optional = (resync_every, prune_every)
    if relay_every <= 0 or clear_partials_every <= 0 or any((p or 1) <= 0 for p in optional):
        raise ValueError("periods must be positive numbers of seconds")
    schedule = {
        "postlogin-relay-pending": {
            "task": "postlogin.relay_pending",
            "schedule": relay_every,
            "options": {"expires": relay_every},
        },
        "postlogin-clear-stale-partials": {
            "task": "postlogin.clear_stale_partials",
            "schedule": clear_partials_every,
            "options": {"expires": clear_partials_every},
        },
    }
    if resync_every:  # None: no profile re-sync
        schedule["postlogin-resync-stale"] = {
            "task": "postlogin.resync_stale",
            "schedule": resync_every,
            "options": {"expires": resync_every},
        }
    if prune_every:  # None: the ledger keeps every row (prune it yourself)
        schedule["postlogin-prune"] = {
            "task": "postlogin.prune",
            "schedule": prune_every,
            "options": {"expires": prune_every},
        }
    return schedule
