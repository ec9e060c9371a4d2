from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.timesince import timesince
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from postlogin.models import Profile
from postlogin.views import user_status

from .models import LoginRecord


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    # Each stack has its own sign-in URLs; only the template of the one installed is loaded.
    buttons = f"accounts/sign_in_{settings.DEMO_AUTH}.html"
    return render(request, "accounts/home.html", {"sign_in_buttons": buttons})


def page_status(user_id: Any) -> dict[str, Any]:
    """postlogin's job status plus what the example's jobs produced, for the profile page.

    ``user_status`` reads the jobs first; the login records are read after it, so a
    ``login_history`` job shown done always comes with its record.
    """
    status = user_status(user_id)
    logins = LoginRecord.objects.filter(user_id=user_id)[:5]
    status["recent_logins"] = (
        "; ".join(f"{login.provider} {timesince(login.logged_in_at)} ago" for login in logins)
        or "none recorded yet"
    )
    status["welcome"] = welcome_state(status)
    return status


def welcome_state(status: dict[str, Any]) -> str:
    if status["profile"]["welcomed_at"]:
        return "sent"
    states = {job["state"] for job in status["jobs"] if job["kind"] == "welcome_email"}
    if "done" in states:
        return "not sent (no verified email address)"
    return "failed" if states == {"failed"} else "on its way"


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    context = {
        "status": page_status(request.user.pk),
        "profile": Profile.for_user_id(request.user.pk),
        "login_ms": request.session.get("login_ms"),
    }
    return render(request, "accounts/profile.html", context)


@never_cache
@require_GET
@login_required
def profile_status(request: HttpRequest) -> JsonResponse:
    """What the profile page's script polls: the jobs, then what they produced."""
    return JsonResponse(page_status(request.user.pk))
