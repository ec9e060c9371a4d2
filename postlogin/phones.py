"""Phone number validation shared by the onboarding gates (social-auth and allauth)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _

from .conf import postlogin_settings


def normalise_phone(raw: str, region: str | None = None) -> str:
    """The number in E.164 form (``+442079460000``), or a ``ValidationError`` saying why not.

    ``region`` (an ISO 3166 code such as ``"GB"``) is used for numbers written without a
    ``+country`` prefix; it defaults to ``POSTLOGIN["PHONE_REGION"]``.
    """
    try:
        import phonenumbers
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImproperlyConfigured(
            "Phone numbers need the phonenumbers package: pip install 'django-postlogin[phone]'"
        ) from exc

    region = region or postlogin_settings.PHONE_REGION
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValidationError(
                _("Start the number with + and its country code, for example +44 20 7946 0000."),
                code="country_code",
            ) from exc
        raise ValidationError(_("This does not look like a phone number."), code="invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("This is not a valid phone number for %(region)s.")
            % {"region": phonenumbers.region_code_for_number(number) or _("its country")},
            code="invalid",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
