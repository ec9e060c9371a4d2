"""Per-user job status as JSON, for a page that shows post-login work as it happens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import Job, Profile

#: The most recent jobs returned; older ones are in the admin.
JOB_STATUS_LIMIT = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_json(job: Job) -> dict[str, Any]:
    finished = job.finished_at
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "provider": job.provider,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "finished_at": _iso(finished),
        "duration_ms": (
            round((finished - job.created_at).total_seconds() * 1000) if finished else None
        ),
    }


@never_cache
@require_GET
def job_status(request: HttpRequest) -> JsonResponse:
    """The signed-in user's recent jobs and what they produced (avatar URL, welcome time)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    jobs = Job.objects.filter(user_id=request.user.pk).order_by("-created_at", "-pk")
    profile = Profile.objects.filter(user_id=request.user.pk).first()
    return JsonResponse(
        {
            "jobs": [job_json(job) for job in jobs[:JOB_STATUS_LIMIT]],
            "profile": {
                "avatar_url": profile.avatar.url if profile and profile.avatar else None,
                "welcomed_at": _iso(profile.welcomed_at) if profile else None,
            },
        }
    )
