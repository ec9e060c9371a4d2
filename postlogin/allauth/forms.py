"""The onboarding gate for allauth: a social signup form that asks for a phone number.

::

    SOCIALACCOUNT_AUTO_SIGNUP = False  # otherwise allauth skips the form when it can
    SOCIALACCOUNT_FORMS = {"signup": "postlogin.allauth.forms.PhoneSignupForm"}
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.forms import SignupForm
from django import forms
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..conf import postlogin_settings
from ..models import Profile
from ..phones import normalise_phone

TERMS_LABEL = _('I accept the <a href="{}" target="_blank" rel="noopener">terms of service</a>')


class PhoneSignupForm(SignupForm):  # type: ignore[misc]  # allauth ships no type hints
    """allauth's social signup form, plus a required phone number stored in E.164 form on
    ``user.postlogin_profile.phone`` (the same validation as the social-auth gate), and, when
    ``POSTLOGIN["TERMS_URL"]`` is set, a required "I accept the terms" checkbox recorded in
    ``terms_accepted_at``."""

    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=32,
        help_text=_("With its country code, for example +44 20 7946 0000."),
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+44 20 7946 0000"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        terms_url = postlogin_settings.TERMS_URL
        if terms_url:
            self.fields["accept_terms"] = forms.BooleanField(
                label=format_html(str(TERMS_LABEL), terms_url),
                required=True,
            )

    def clean_phone(self) -> str:
        return normalise_phone(self.cleaned_data["phone"])

    def save(self, request: Any) -> Any:
        user = super().save(request)
        details: dict[str, Any] = {"phone": self.cleaned_data["phone"]}
        if self.cleaned_data.get("accept_terms"):
            details["terms_accepted_at"] = timezone.now()
        Profile.objects.update_or_create(user=user, defaults=details)
        return user
