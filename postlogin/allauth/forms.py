"""The onboarding gate for allauth: a social signup form that asks for a phone number.

::

    SOCIALACCOUNT_AUTO_SIGNUP = False  # otherwise allauth skips the form when it can
    SOCIALACCOUNT_FORMS = {"signup": "postlogin.allauth.forms.PhoneSignupForm"}
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.forms import SignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Profile
from ..phones import normalise_phone


class PhoneSignupForm(SignupForm):  # type: ignore[misc]  # allauth ships no type hints
    """allauth's social signup form, plus a required phone number stored in E.164 form on
    ``user.postlogin_profile.phone`` (the same validation as the social-auth gate)."""

    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=32,
        help_text=_("With its country code, for example +44 20 7946 0000."),
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+44 20 7946 0000"}
        ),
    )

    def clean_phone(self) -> str:
        return normalise_phone(self.cleaned_data["phone"])

    def save(self, request: Any) -> Any:
        user = super().save(request)
        Profile.objects.update_or_create(user=user, defaults={"phone": self.cleaned_data["phone"]})
        return user
