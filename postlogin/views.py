"""Per-user job status as JSON, for a page that shows post-login work as it happens."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist, loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import error_codes
from .deprecation import renamed
from .models import Job, Profile

#: The onboarding view moved with the rest of the social-auth integration.
__getattr__ = renamed(__name__, {"onboarding": "postlogin.social.views.onboarding"})

#: The most recent jobs returned; older ones are in the admin.
JOB_STATUS_LIMIT = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_error_code(job: Job) -> str | None:
    """The code shown for the job's last failure, or None. Never the error text: it can name
    internal hosts (``last_error`` is for staff). An error recorded without a code (by a worker
    of an older version, during a rolling upgrade) shows as ``internal_error``."""
    if job.error_code:
        return job.error_code
    return error_codes.INTERNAL_ERROR if job.last_error else None


def job_json(job: Job) -> dict[str, Any]:
    finished = job.finished_at
    code = user_error_code(job)
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "attempts": job.attempts,
        "error_code": code,
        "error_message": error_codes.message(code) if code else None,
        "provider": job.provider,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "finished_at": _iso(finished),
        "duration_ms": (
            round((finished - job.created_at).total_seconds() * 1000) if finished else None
        ),
    }


def user_status(user_id: Any) -> dict[str, Any]:
    """The user's recent jobs, then what they produced (avatar URL, welcome time).

    The jobs are read first, the profile after them: a job records ``done`` only after what
    it produced was committed, so anything a job shown ``done`` produced is in the profile
    read afterwards. (Read the other way round, a job finishing between the two reads shows
    ``done`` next to an avatar that is not there yet.) Read more of what jobs produced after
    calling this, never before.
    """
    jobs = list(
        Job.objects.filter(user_id=user_id).order_by("-created_at", "-pk")[:JOB_STATUS_LIMIT]
    )
    profile = Profile.objects.filter(user_id=user_id).first()
    return {
        "jobs": [job_json(job) for job in jobs],
        "profile": {
            "avatar_url": profile.avatar.url if profile and profile.avatar else None,
            "welcomed_at": _iso(profile.welcomed_at) if profile else None,
        },
    }


@never_cache
@require_GET
def job_status(request: HttpRequest) -> JsonResponse:
    """The signed-in user's recent jobs and what they produced (see :func:`user_status`)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    return JsonResponse(user_status(request.user.pk))


#: Seconds a client is asked to wait before trying again while the database is unavailable.
DATABASE_UNAVAILABLE_RETRY_AFTER = 10


def server_error(request: HttpRequest) -> HttpResponse:
    """A ``handler500`` that answers 503 (with ``Retry-After``) when the error is the database
    being unavailable (a restart, a failover): the login can be tried again in a moment.

    Any other error gets Django's own 500 page. Set ``handler500 =
    "postlogin.views.server_error"`` in the root URLconf; Django calls it for an error raised
    anywhere in a request, middleware included (the session middleware saving a session, too).
    """
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return defaults.server_error(request)
    try:
        body: str = loader.render_to_string("503.html")
    except TemplateDoesNotExist:
        body = "<h1>Service unavailable</h1><p>Please try again in a moment.</p>"
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(DATABASE_UNAVAILABLE_RETRY_AFTER)
    return response
