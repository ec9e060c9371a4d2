"""The onboarding gate's pieces shared by the pipeline step and the onboarding view."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.template.response import TemplateResponse
from django.urls import reverse

from ..conf import postlogin_settings
from ..forms import OnboardingForm
from ..models import Profile

#: The field that marks a POST to /complete/ as the gate's own form.
FORM_MARKER = "postlogin_onboarding"
TEMPLATE = "postlogin/onboarding.html"


def applies_to(user: Any, is_new: bool) -> bool:
    """Must this user give a phone number before the login completes?"""
    profile = Profile.objects.filter(user_id=user.pk).first()
    if profile is not None and profile.phone:
        return False
    if postlogin_settings.PHONE_REQUIRED_FOR == "users_without_phone":
        return True
    # "new_users": a first login, or an account whose first login never got past the gate.
    return bool(is_new) or user.last_login is None


def csrf_rejected(request: HttpRequest) -> bool:
    """social-auth's /complete/ view is CSRF-exempt (providers post to it); the gate is not."""

    def view(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
        raise AssertionError

    checker = CsrfViewMiddleware(lambda request: HttpResponse())
    return checker.process_view(request, view, (), {}) is not None


def account_label(details: dict[str, Any]) -> str:
    return str(details.get("email") or details.get("fullname") or details.get("username") or "")


def render_form(
    request: HttpRequest,
    *,
    form: OnboardingForm,
    backend_name: str,
    partial_token: str,
    details: dict[str, Any],
    status: int = 200,
) -> TemplateResponse:
    response = TemplateResponse(
        request,
        TEMPLATE,
        {
            "form": form,
            "action": reverse("social:complete", args=[backend_name]),
            "partial_token": partial_token,
            "form_marker": FORM_MARKER,
            "account": account_label(details),
            "backend_name": backend_name,
        },
        status=status,
    )
    response.render()
    return response
