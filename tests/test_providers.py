"""Provider contract tests: each provider supplies its payloads, the checks are shared."""

from __future__ import annotations

from typing import Any, ClassVar

from postlogin import providers
from postlogin.events import ProviderProfile

from .payloads import (
    GITHUB_EMAILS,
    GITHUB_TOKEN,
    GITHUB_USER,
    GOOGLE_TOKEN,
    GOOGLE_USERINFO,
    OIDC_USERINFO,
)


class ProviderContract:
    backend: ClassVar[str]
    allauth_id: ClassVar[str]
    provider_id: ClassVar[str]
    payload: ClassVar[dict[str, Any]]
    expected: ClassVar[ProviderProfile]
    #: The payload with the email left unverified.
    unverified_payload: ClassVar[dict[str, Any]]

    def test_extracts_the_profile(self) -> None:
        assert providers.for_backend(self.backend).profile(self.payload) == self.expected

    def test_allauth_id_maps_to_the_same_provider(self) -> None:
        assert providers.for_allauth(self.allauth_id).id == self.provider_id
        assert providers.for_backend(self.backend).id == self.provider_id

    def test_unverified_email_is_not_reported_verified(self) -> None:
        profile = providers.for_backend(self.backend).profile(self.unverified_payload)
        assert profile.email == self.expected.email
        assert profile.email_verified is False

    def test_empty_payload_gives_an_empty_profile(self) -> None:
        assert providers.for_backend(self.backend).profile({}) == ProviderProfile()

    def test_tokens_never_reach_the_profile(self) -> None:
        profile = providers.for_backend(self.backend).profile(self.payload)
        for value in (profile.uid, profile.email, profile.name, profile.avatar_url):
            assert "token" not in str(value).lower()


class TestGoogle(ProviderContract):
    backend = "google-oauth2"
    allauth_id = "google"
    provider_id = "google"
    payload = {**GOOGLE_TOKEN, **GOOGLE_USERINFO}
    expected = ProviderProfile(
        uid="110169484474386276334",
        email="ada@example.com",
        email_verified=True,
        name="Ada Lovelace",
        avatar_url="https://lh3.googleusercontent.com/a/ACg8ocJ-ada=s96-c",
    )
    unverified_payload = {**GOOGLE_USERINFO, "email_verified": False}

    def test_v2_userinfo_shape(self) -> None:
        profile = providers.for_backend(self.backend).profile(
            {"id": "42", "email": "a@example.com", "verified_email": True}
        )
        assert (profile.uid, profile.email_verified) == ("42", True)


class TestGitHub(ProviderContract):
    backend = "github"
    allauth_id = "github"
    provider_id = "github"
    payload = {
        **GITHUB_TOKEN,
        **GITHUB_USER,
        "email": "octocat@github.com",
        "emails": GITHUB_EMAILS,
    }
    expected = ProviderProfile(
        uid="583231",
        email="octocat@github.com",
        email_verified=True,
        name="The Octocat",
        avatar_url="https://avatars.githubusercontent.com/u/583231?v=4",
    )
    unverified_payload = {
        **GITHUB_USER,
        "email": "octocat@github.com",
        "emails": [{**GITHUB_EMAILS[0], "verified": False}],
    }

    def test_without_emails_list_the_email_is_unverified(self) -> None:
        profile = providers.for_backend("github").profile(
            {**GITHUB_USER, "email": "octocat@github.com"}
        )
        assert profile.email_verified is False

    def test_name_falls_back_to_login(self) -> None:
        profile = providers.for_backend("github").profile({**GITHUB_USER, "name": None})
        assert profile.name == "octocat"


class TestOpenIDConnect(ProviderContract):
    backend = "oidc"
    allauth_id = "openid_connect"
    provider_id = "oidc"
    payload = {"access_token": "token", "id_token": "jwt", **OIDC_USERINFO}
    expected = ProviderProfile(
        uid="248289761001",
        email="janedoe@example.com",
        email_verified=True,
        name="Jane Doe",
        avatar_url="https://idp.example.com/janedoe/me.jpg",
    )
    unverified_payload = {**OIDC_USERINFO, "email_verified": "false"}

    def test_string_true_claim_counts_as_verified(self) -> None:
        profile = providers.for_backend("oidc").profile({**OIDC_USERINFO, "email_verified": "true"})
        assert profile.email_verified is True


def test_unknown_backend_uses_common_keys_and_its_own_name() -> None:
    extractor = providers.for_backend("some-backend")
    profile = extractor.profile({"id": 7, "email": "x@example.com", "picture": "https://p/x"})
    assert profile == ProviderProfile(uid="7", email="x@example.com", avatar_url="https://p/x")
    assert providers.provider_id(extractor, "some-backend") == "some-backend"
    assert providers.for_allauth("unknown").id == "generic"


def test_strange_values_become_missing_fields() -> None:
    profile = providers.for_backend("google-oauth2").profile(
        {"sub": {"x": 1}, "email": True, "name": "   ", "picture": ["https://x"]}
    )
    assert profile == ProviderProfile()
    assert providers.for_backend("github").profile(["not", "a", "dict"]) == ProviderProfile()
