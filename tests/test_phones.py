import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import override_settings

from postlogin.phones import normalise_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0000", None, "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("  +1 415-555-2671 ", None, "+14155552671"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("", "required", "Enter a phone number."),
        ("020 7946 0000", "country_code", "Start the number with + and its country code"),
        ("+44 12", "invalid", "not a valid phone number"),
        ("call me maybe", "invalid", "does not look like a phone number"),
    ],
)
def test_bad_numbers_say_why(raw: str, code: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_phone(raw)
    assert info.value.code == code
    assert message in info.value.messages[0]


def test_default_region_comes_from_settings() -> None:
    with override_settings(POSTLOGIN={"PHONE_REGION": "GB"}):
        assert normalise_phone("020 7946 0000") == "+442079460000"
    with (
        override_settings(POSTLOGIN={"PHONE_REGION": "Britain"}),
        pytest.raises(ImproperlyConfigured, match="PHONE_REGION"),
    ):
        normalise_phone("020 7946 0000")
