"""social-auth-app-django pipeline steps.

Order, after social-core's defaults up to ``user_details``::

    "postlogin.social.pipeline.associate_by_verified_email",  # instead of associate_by_email,
                                                              # right before create_user
    ...
    "postlogin.social.pipeline.require_phone_number",         # after user_details
    "postlogin.social.pipeline.schedule_post_login_tasks",    # last
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from social_core.pipeline.partial import partial

from .. import emails, providers
from ..dispatch import dispatch
from ..events import LoginEvent
from ..forms import OnboardingForm
from ..models import Profile
from ..scrub import get_logger
from . import gate

logger = get_logger(__name__)


def schedule_post_login_tasks(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    is_new: bool = False,
    *args: Any,
    response: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Record this login's post-login jobs; their messages go out after the commit.

    Place it last in ``SOCIAL_AUTH_PIPELINE`` (after ``user_details`` and any gate). It never
    stops the pipeline.
    """
    if user is None or user.pk is None:
        return None
    extractor = providers.for_backend(backend.name)
    event = LoginEvent(
        user_id=user.pk,
        provider=providers.provider_id(extractor, backend.name),
        is_new=bool(is_new),
        profile=extractor.profile(providers.social_core_payload(backend, response)),
    )
    dispatch(event)
    return None


@partial
def require_phone_number(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    is_new: bool = False,
    *args: Any,
    current_partial: Any = None,
    **kwargs: Any,
) -> HttpResponse | None:
    """Pause the login until the user gives a valid phone number (and accepts the terms).

    The first pass redirects to the onboarding page (``postlogin:onboarding``), whose form
    posts back to ``/complete/<backend>/`` with the partial token. An invalid number shows the
    form again with the reason; a valid one is stored in E.164 form and the login goes on.
    """
    if user is None or not gate.applies_to(user, is_new):
        return None
    request = strategy.request
    if request.method == "POST" and gate.FORM_MARKER in request.POST:
        form = OnboardingForm(request.POST)
        if gate.csrf_rejected(request):
            form.is_valid()
            form.add_error(None, "This form expired. Please submit it again.")
        elif form.is_valid():
            save_onboarding(user, form)
            return None
        return gate.render_form(
            request,
            form=form,
            backend_name=backend.name,
            partial_token=current_partial.token,
            details=details,
            status=400,
        )
    query = urlencode({"partial_token": current_partial.token})
    return redirect(f"{reverse('postlogin:onboarding')}?{query}")


def save_onboarding(user: Any, form: OnboardingForm) -> None:
    profile = Profile.for_user_id(user.pk)
    profile.phone = form.cleaned_data["phone"]
    fields = ["phone"]
    if form.cleaned_data.get("accept_terms"):
        profile.terms_accepted_at = timezone.now()
        fields.append("terms_accepted_at")
    profile.save(update_fields=fields)


def associate_by_verified_email(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    *args: Any,
    response: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any] | HttpResponse | None:
    """Link the login to the existing account with the same email, only if the provider
    asserts that the email is verified; otherwise refuse (no account takeover).

    A replacement for social-core's ``associate_by_email``, which links on any email the
    provider returns. Place it right before ``create_user``. Addresses are compared by
    :func:`postlogin.emails.same_address`, never by the database's case-insensitive match.
    """
    if user is not None:
        return None
    email = (details.get("email") or "").strip()
    if not email:
        return None
    if emails.holds_look_alike(email):
        return _refuse(strategy, backend, email, "look_alike_address")
    existing = users_with_address(email)
    if not existing:
        return None
    payload = providers.social_core_payload(backend, response)
    profile = providers.for_backend(backend.name).profile(payload)
    asserted = profile.email_verified and emails.same_address(profile.email, email)
    if len(existing) == 1 and asserted:
        return {"user": existing[0], "is_new": False}
    reason = "several_accounts" if len(existing) > 1 else "email_not_verified"
    return _refuse(strategy, backend, email, reason)


def _refuse(strategy: Any, backend: Any, email: str, reason: str) -> HttpResponse:
    logger.warning(
        "postlogin: refused to link a %s login to an existing account (%s)", backend.name, reason
    )
    refusal = TemplateResponse(
        strategy.request,
        "postlogin/link_refused.html",
        {"email": email, "backend_name": backend.name, "reason": reason},
        status=403,
    )
    refusal.render()
    return refusal


#: Accounts looked at for one address; more look-alikes than this are refused as ambiguous.
MAX_CANDIDATES = 50


def users_with_address(email: str) -> list[Any]:
    """The users whose email is ``email`` under :func:`postlogin.emails.same_address`.

    The database narrows the candidates (its case-insensitive match on each of the address's
    :func:`~postlogin.emails.spellings`); Python keeps those that are the same address: PostgreSQL's
    ``UPPER()`` alone takes ``victim@g\u0131thub.com`` (dotless i) for ``victim@github.com``.
    """
    wanted = emails.normal_form(email)
    if wanted is None:
        return []
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    query = Q()
    for spelling in emails.spellings(email):
        query |= Q(**{f"{field}__iexact": spelling})
    candidates = list(user_model._default_manager.filter(query)[: MAX_CANDIDATES + 1])
    if len(candidates) > MAX_CANDIDATES:
        return candidates  # ambiguous whatever their forms: refused as "several accounts"
    return [user for user in candidates if emails.normal_form(getattr(user, field)) == wanted]
