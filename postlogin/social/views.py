"""The onboarding page of the social-auth gate (``postlogin:onboarding``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..forms import OnboardingForm
from . import gate, partials


@never_cache
@require_GET
def onboarding(request: HttpRequest) -> HttpResponse:
    """The onboarding form for the social login this browser session is completing.

    The form posts to social-auth's ``/complete/<backend>/`` with the partial token, which
    resumes the pipeline at ``postlogin.social.pipeline.require_phone_number``. A token this
    session did not start, or one that expired or was cleaned up, sends the user back to sign in
    again.
    """
    token = request.GET.get("partial_token", "")
    partial = partials.load_for_session(request, token)
    if partial is None:
        messages.warning(request, _("Your sign-in expired or was not found. Please sign in again."))
        return redirect(settings.LOGIN_URL)
    details = partial.kwargs.get("details") or {}
    return gate.render_form(
        request,
        form=OnboardingForm(),
        backend_name=partial.backend,
        partial_token=partial.token,
        details=details,
    )
