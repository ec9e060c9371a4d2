"""Steps shared by the re-sync tests of both login libraries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from postlogin import runner
from postlogin.kinds import profile_sync
from postlogin.models import Job, Profile


def run_sync() -> Job:
    """Schedule the one due account's re-sync and run it here; the job as it ended."""
    [job_id] = profile_sync.schedule_stale()
    runner.run(job_id)
    return Job.objects.get(pk=job_id)


def make_stale(user: Any) -> None:
    """As two days passing would: the last sync, and the job that did it, are old."""
    two_days_ago = timezone.now() - timedelta(days=2)
    Profile.objects.filter(user=user).update(synced_at=two_days_ago)
    Job.objects.filter(user=user, kind="profile_sync").update(created_at=two_days_ago)
