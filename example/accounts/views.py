from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from postlogin.models import Job, Profile
from postlogin.views import job_json

from .models import LoginRecord


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    # Each stack has its own sign-in URLs; only the template of the one installed is loaded.
    buttons = f"accounts/sign_in_{settings.DEMO_AUTH}.html"
    return render(request, "accounts/home.html", {"sign_in_buttons": buttons})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    postlogin_profile = Profile.for_user_id(request.user.pk)
    context = {
        "profile": postlogin_profile,
        # As the live status shows them: an error's code and message, never its text.
        "jobs": [
            job_json(job)
            for job in Job.objects.filter(user=request.user).order_by("-created_at")[:20]
        ],
        "logins": LoginRecord.objects.filter(user=request.user)[:5],
        "login_ms": request.session.get("login_ms"),
    }
    return render(request, "accounts/profile.html", context)
