"""The provider contract: the checks every provider extractor passes, postlogin's or a project's.

Subclass :class:`ProviderContract` in a pytest module (its name starts with ``Test``), give it
a real login's payloads and the profile they must yield, and the shared checks run against the
registered extractor. No pytest fixture is needed, so they also run under plain pytest with the
project's Django settings (pytest-django).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from .. import providers
from ..events import ProviderProfile

#: Values a provider may send where a string was documented; extraction must survive each one.
ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    10**4301,  # past str()'s limit on digits
    1.5,
    float("nan"),
    "",
    "   ",
    "a\x00b",
    "javascript:alert(1)",
    "https://[::1",
    "x" * 3000,
    [],
    ["https://example.com/a.png"],
    {},
    {"url": "https://example.com/a.png"},
)


def assert_well_formed(profile: ProviderProfile) -> None:
    """What any extraction yields, whatever the payload: a ``ProviderProfile`` whose fields are
    non-empty strings PostgreSQL can store or None, a verified flag only with an email, and an
    avatar URL only if absolute http(s), without whitespace, at most ``MAX_URL_LENGTH`` long."""
    assert isinstance(profile, ProviderProfile)
    for value in (profile.uid, profile.email, profile.name, profile.avatar_url):
        assert value is None or (isinstance(value, str) and value and "\x00" not in value)
    assert isinstance(profile.email_verified, bool)
    assert profile.email is not None or profile.email_verified is False
    if profile.avatar_url is not None:
        assert profile.avatar_url.lower().startswith(("http://", "https://"))
        assert len(profile.avatar_url) <= providers.MAX_URL_LENGTH
        assert not any(char.isspace() for char in profile.avatar_url)


def _with_one_odd_value(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """``payload`` with one value, at the top level or one mapping down, replaced by an odd
    one; every such replacement in turn."""
    for key, value in payload.items():
        for odd in ODD_VALUES:
            yield {**payload, key: odd}
        if isinstance(value, Mapping):
            for nested in _with_one_odd_value(value):
                yield {**payload, key: nested}


class ProviderContract:
    """Shared checks for one provider; a subclass supplies the payloads.

    ``payload`` is what social-core's pipeline hands the extractor: the token response merged
    with the user data, and for an OpenID Connect backend the validated ID token claims under
    ``id_token`` (see :func:`postlogin.providers.social_core_payload`). ``allauth_extra_data``
    is allauth's ``SocialAccount.extra_data`` for the same login; ``allauth_expected`` is the
    profile it yields when that differs from ``expected`` (allauth keeps another endpoint's
    answer, or drops a key).
    """

    backend: ClassVar[str]
    allauth_id: ClassVar[str]
    provider_id: ClassVar[str]
    payload: ClassVar[dict[str, Any]]
    expected: ClassVar[ProviderProfile]
    #: The payload with the email left unverified.
    unverified_payload: ClassVar[dict[str, Any]]
    allauth_extra_data: ClassVar[dict[str, Any]]
    allauth_expected: ClassVar[ProviderProfile | None] = None

    def test_extracts_the_profile(self) -> None:
        assert providers.for_backend(self.backend).profile(self.payload) == self.expected

    def test_allauth_id_maps_to_the_same_provider(self) -> None:
        assert providers.for_allauth(self.allauth_id).id == self.provider_id
        assert providers.for_backend(self.backend).id == self.provider_id
        assert type(providers.for_id(self.provider_id)) is type(providers.for_backend(self.backend))

    def test_allauth_extra_data_gives_the_same_profile(self) -> None:
        profile = providers.for_allauth(self.allauth_id).profile(self.allauth_extra_data)
        assert profile == (self.allauth_expected or self.expected)

    def test_unverified_email_is_not_reported_verified(self) -> None:
        profile = providers.for_backend(self.backend).profile(self.unverified_payload)
        assert profile.email == self.expected.email
        assert profile.email_verified is False

    def test_empty_payload_gives_an_empty_profile(self) -> None:
        assert providers.for_backend(self.backend).profile({}) == ProviderProfile()

    def test_tokens_never_reach_the_profile(self) -> None:
        profile = providers.for_backend(self.backend).profile(self.payload)
        tokens = [v for k, v in self.payload.items() if "token" in k and isinstance(v, str)]
        for value in (profile.uid, profile.email, profile.name, profile.avatar_url):
            assert not any(token in str(value) for token in tokens)

    def test_the_avatar_is_an_https_url_or_absent(self) -> None:
        url = providers.for_backend(self.backend).profile(self.payload).avatar_url
        assert url is None or url.startswith("https://")

    def test_odd_values_cost_a_field_never_the_login(self) -> None:
        for payload in (self.payload, self.allauth_extra_data):
            for odd in _with_one_odd_value(payload):
                assert_well_formed(providers.for_backend(self.backend).profile(odd))
                assert_well_formed(providers.for_allauth(self.allauth_id).profile(odd))
