"""The onboarding form: what a user must give before the account is complete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .conf import postlogin_settings
from .phones import normalise_phone


class OnboardingForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+44 20 7946 0000"}
        ),
    )
    accept_terms = forms.BooleanField(label=_("I accept the terms of service"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terms_url: str | None = postlogin_settings.TERMS_URL
        if self.terms_url:
            self.fields["accept_terms"].required = True
        else:
            del self.fields["accept_terms"]

    def clean_phone(self) -> str:
        try:
            return normalise_phone(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.messages[0], code=exc.code) from exc
