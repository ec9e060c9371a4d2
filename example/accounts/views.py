from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from postlogin.models import Profile


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    return render(request, "accounts/home.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    postlogin_profile = Profile.for_user_id(request.user.pk)
    return render(request, "accounts/profile.html", {"profile": postlogin_profile})
