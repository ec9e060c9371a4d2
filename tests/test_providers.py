"""Provider contract tests: each provider supplies its payloads, the checks are shared
(:class:`postlogin.testing.ProviderContract`, the same a project runs for its own provider).

``payload`` is what social-core hands the pipeline (user data merged with the token response),
``allauth_extra_data`` what allauth stores (the user data alone, unless a provider says else).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from postlogin import providers
from postlogin.events import ProviderProfile
from postlogin.testing import ProviderContract

from .payloads import (
    GITHUB_EMAILS,
    GITHUB_TOKEN,
    GITHUB_USER,
    GOOGLE_TOKEN,
    GOOGLE_USERINFO,
    OIDC_USERINFO,
)
from .payloads.apple import APPLE_FIRST_LOGIN_NAME, APPLE_ID_TOKEN_CLAIMS
from .payloads.discord import DISCORD_TOKEN, DISCORD_USER
from .payloads.facebook import FACEBOOK_ME, FACEBOOK_ME_PLAIN, FACEBOOK_PICTURE_URL, FACEBOOK_TOKEN
from .payloads.gitlab import GITLAB_TOKEN, GITLAB_USER
from .payloads.linkedin import LINKEDIN_TOKEN, LINKEDIN_USERINFO
from .payloads.microsoft import AZUREAD_ID_TOKEN_CLAIMS, GRAPH_ME, GRAPH_TOKEN
from .payloads.twitter import X_TOKEN, X_USER


class TestGoogle(ProviderContract):
    backend = "google-oauth2"
    allauth_id = "google"
    provider_id = "google"
    payload = {**GOOGLE_TOKEN, **GOOGLE_USERINFO}
    allauth_extra_data = GOOGLE_USERINFO
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
    # allauth keeps /user only (its "email" is null here); the addresses go to EmailAddress.
    allauth_extra_data = GITHUB_USER
    allauth_expected = ProviderProfile(
        uid="583231", name="The Octocat", avatar_url=expected.avatar_url
    )

    def test_without_emails_list_the_email_is_unverified(self) -> None:
        profile = providers.for_backend("github").profile(
            {**GITHUB_USER, "email": "octocat@github.com"}
        )
        assert profile.email_verified is False

    def test_a_null_public_email_falls_back_to_the_primary_address(self) -> None:
        profile = providers.for_backend("github").profile({**GITHUB_USER, "emails": GITHUB_EMAILS})
        assert (profile.email, profile.email_verified) == ("octocat@github.com", True)

    def test_name_falls_back_to_login(self) -> None:
        profile = providers.for_backend("github").profile({**GITHUB_USER, "name": None})
        assert profile.name == "octocat"


class TestGitLab(ProviderContract):
    backend = "gitlab"
    allauth_id = "gitlab"
    provider_id = "gitlab"
    payload = {**GITLAB_TOKEN, **GITLAB_USER}
    allauth_extra_data = GITLAB_USER
    expected = ProviderProfile(
        uid="1",
        email="john@example.com",
        email_verified=True,
        name="John Smith",
        avatar_url="https://gitlab.com/uploads/-/system/user/avatar/1/avatar.png",
    )
    unverified_payload = {**GITLAB_USER, "confirmed_at": None}


class TestFacebook(ProviderContract):
    backend = "facebook"
    allauth_id = "facebook"
    provider_id = "facebook"
    payload = {**FACEBOOK_TOKEN, **FACEBOOK_ME}
    allauth_extra_data = FACEBOOK_ME
    expected = ProviderProfile(
        uid="10158012345678901",
        email="ada@example.com",
        email_verified=False,  # the Graph API does not say
        name="Ada Lovelace",
        avatar_url=FACEBOOK_PICTURE_URL,
    )
    unverified_payload = FACEBOOK_ME

    def test_without_the_picture_field_the_picture_endpoint_of_the_id_is_used(self) -> None:
        profile = providers.for_backend(self.backend).profile(FACEBOOK_ME_PLAIN)
        assert profile.avatar_url == (
            "https://graph.facebook.com/10158012345678901/picture?type=large"
        )

    def test_the_silhouette_placeholder_is_no_avatar(self) -> None:
        data = {**FACEBOOK_ME["picture"]["data"], "is_silhouette": True}  # type: ignore[index]
        profile = providers.for_backend(self.backend).profile(
            {**FACEBOOK_ME, "picture": {"data": data}}
        )
        assert profile.avatar_url is None

    @pytest.mark.parametrize("uid", ["../../me/permissions?x=", "10158012345678901/../me", "١٢٣"])
    def test_an_id_that_is_not_a_number_builds_no_url(self, uid: str) -> None:
        profile = providers.for_backend(self.backend).profile({**FACEBOOK_ME_PLAIN, "id": uid})
        assert profile.avatar_url is None


class TestX(ProviderContract):
    backend = "twitter-oauth2"
    allauth_id = "twitter_oauth2"
    provider_id = "twitter"
    payload = {**X_TOKEN, **X_USER}
    allauth_extra_data = X_USER
    expected = ProviderProfile(
        uid="2244994945",
        email="devs@example.com",
        email_verified=True,
        name="Developers",
        # "_normal" is 48 x 48 px.
        avatar_url="https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_400x400.jpg",
    )
    unverified_payload = {
        **{k: v for k, v in X_USER.items() if k != "confirmed_email"},
        "email": "devs@example.com",
    }

    @pytest.mark.parametrize(
        ("url", "larger"),
        [
            (
                "https://pbs.twimg.com/profile_images/1/abc_normal.png",
                "https://pbs.twimg.com/profile_images/1/abc_400x400.png",
            ),
            (
                "https://pbs.twimg.com/profile_images/1/abc_normal",
                "https://pbs.twimg.com/profile_images/1/abc_400x400",
            ),
            (
                "https://pbs.twimg.com/profile_images/1/abc_bigger.jpg",
                "https://pbs.twimg.com/profile_images/1/abc_bigger.jpg",
            ),
            (
                "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
                "https://abs.twimg.com/sticky/default_profile_images/default_profile_400x400.png",
            ),
        ],
    )
    def test_the_larger_size_is_asked_for(self, url: str, larger: str) -> None:
        profile = providers.for_backend(self.backend).profile({"profile_image_url": url})
        assert profile.avatar_url == larger


class TestDiscord(ProviderContract):
    backend = "discord"
    allauth_id = "discord"
    provider_id = "discord"
    payload = {**DISCORD_TOKEN, **DISCORD_USER}
    allauth_extra_data = DISCORD_USER
    expected = ProviderProfile(
        uid="80351110224678912",
        email="nelly@discord.com",
        email_verified=True,
        name="Nelly",
        avatar_url=(
            "https://cdn.discordapp.com/avatars/80351110224678912/"
            "8342729096ea3675442027381ff50dfe.png?size=512"
        ),
    )
    unverified_payload = {**DISCORD_USER, "verified": False}

    def test_no_avatar_hash_means_no_avatar(self) -> None:
        profile = providers.for_backend(self.backend).profile({**DISCORD_USER, "avatar": None})
        assert profile.avatar_url is None

    def test_an_animated_avatar_is_fetched_as_its_first_frame(self) -> None:
        animated = "a_1269e74af4df7417b13759eae50c83dc"
        profile = providers.for_backend(self.backend).profile({**DISCORD_USER, "avatar": animated})
        assert profile.avatar_url == (
            f"https://cdn.discordapp.com/avatars/80351110224678912/{animated}.png?size=512"
        )

    @pytest.mark.parametrize("avatar", ["../../attachments/x", "8342729096EA", "x" * 32])
    def test_a_malformed_hash_builds_no_url(self, avatar: str) -> None:
        profile = providers.for_backend(self.backend).profile({**DISCORD_USER, "avatar": avatar})
        assert profile.avatar_url is None


class TestLinkedIn(ProviderContract):
    backend = "linkedin-openidconnect"
    allauth_id = "linkedin"  # an allauth openid_connect app with provider_id "linkedin"
    provider_id = "linkedin"
    payload = {**LINKEDIN_TOKEN, **LINKEDIN_USERINFO}
    allauth_extra_data = {"userinfo": LINKEDIN_USERINFO, "id_token": {"sub": "782bbtaQ"}}
    expected = ProviderProfile(
        uid="782bbtaQ",
        email="doe@email.com",
        email_verified=True,
        name="John Doe",
        avatar_url=(
            "https://media.licdn-ei.com/dms/image/C5F03AQHqK8v7tB1HCQ/"
            "profile-displayphoto-shrink_100_100/0/"
        ),
    )
    unverified_payload = {**LINKEDIN_USERINFO, "email_verified": False}


class TestOpenIDConnect(ProviderContract):
    backend = "oidc"
    allauth_id = "openid_connect"
    provider_id = "oidc"
    payload = {"access_token": "token", "id_token": "jwt", **OIDC_USERINFO}
    allauth_extra_data = {"userinfo": OIDC_USERINFO, "id_token": {"sub": "248289761001"}}
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

    def test_the_id_token_claims_are_enough_without_userinfo(self) -> None:
        # allauth with fetch_userinfo off keeps only the ID token's claims.
        profile = providers.for_allauth("openid_connect").profile({"id_token": OIDC_USERINFO})
        assert profile == self.expected

    def test_an_unknown_allauth_oidc_app_reads_the_same_shape(self) -> None:
        extractor = providers.for_allauth("my-keycloak")
        assert extractor.profile({"userinfo": OIDC_USERINFO}) == self.expected
        assert providers.provider_id(extractor, "my-keycloak") == "my-keycloak"


class TestMicrosoft(ProviderContract):
    backend = "microsoft-graph"
    allauth_id = "microsoft"
    provider_id = "microsoft"
    payload = {**GRAPH_TOKEN, **GRAPH_ME}
    allauth_extra_data = GRAPH_ME
    expected = ProviderProfile(
        uid="48d31887-5fad-4d73-a9f5-3c356e68a038",
        email="MeganB@M365x214355.onmicrosoft.com",
        email_verified=False,  # set by tenant admins, never verified
        name="Megan Bowen",
        avatar_url=None,  # the avatar job reads the photo from Graph
    )
    unverified_payload = GRAPH_ME

    def test_the_photo_comes_from_graph(self) -> None:
        assert providers.for_backend(self.backend).photo_source == "microsoft-graph"

    @pytest.mark.parametrize(
        "backend", ["azuread-oauth2", "azuread-tenant-oauth2", "azuread-v2-tenant-oauth2"]
    )
    def test_azure_ad_id_token_claims(self, backend: str) -> None:
        profile = providers.for_backend(backend).profile(AZUREAD_ID_TOKEN_CLAIMS)
        assert profile == ProviderProfile(
            uid="00000000-0000-0000-66f3-3332eca7ea81",
            email="AbeLi@microsoft.com",
            email_verified=False,
            name="Abe Lincoln",
        )

    def test_without_mail_the_user_principal_name_is_the_email(self) -> None:
        profile = providers.for_backend(self.backend).profile({**GRAPH_ME, "mail": None})
        assert (profile.email, profile.email_verified) == (GRAPH_ME["userPrincipalName"], False)


class TestApple(ProviderContract):
    backend = "apple-id"
    allauth_id = "apple"
    provider_id = "apple"
    payload = {**APPLE_ID_TOKEN_CLAIMS, **APPLE_FIRST_LOGIN_NAME}
    allauth_extra_data = {
        **APPLE_ID_TOKEN_CLAIMS,
        "name": APPLE_FIRST_LOGIN_NAME["_apple_user_name"],
    }
    expected = ProviderProfile(
        uid="001234.5e3f4c8d2b7a4e1f9c0d6b5a4e3f2c1d.1234",
        email="k7xq2m9v4t@privaterelay.appleid.com",
        email_verified=True,  # "true", a string, in Apple's ID token
        name="Ada Lovelace",
        avatar_url=None,
    )
    unverified_payload = {**APPLE_ID_TOKEN_CLAIMS, "email_verified": "false"}

    def test_returning_logins_have_no_name(self) -> None:
        profile = providers.for_backend(self.backend).profile(APPLE_ID_TOKEN_CLAIMS)
        assert (profile.name, profile.email_verified) == (None, True)


def test_every_provider_is_covered_by_a_contract_test() -> None:
    # Subclasses elsewhere (the docs' example, a project's own) do not count.
    here = [cls for cls in ProviderContract.__subclasses__() if cls.__module__ == __name__]
    assert {cls.provider_id for cls in here} == {cls.id for cls in providers.PROVIDERS}


def test_backend_names_and_allauth_ids_are_unique() -> None:
    backends = [name for cls in providers.PROVIDERS for name in cls.backend_names]
    allauth = [name for cls in providers.PROVIDERS for name in cls.allauth_ids]
    assert len(backends) == len(set(backends))
    assert len(allauth) == len(set(allauth))


def test_unknown_backend_uses_common_keys_and_its_own_name() -> None:
    extractor = providers.for_backend("some-backend")
    profile = extractor.profile({"id": 7, "email": "x@example.com", "picture": "https://p/x"})
    assert profile == ProviderProfile(uid="7", email="x@example.com", avatar_url="https://p/x")
    assert providers.provider_id(extractor, "some-backend") == "some-backend"
    assert providers.for_allauth("unknown").id == "generic"
    assert providers.for_id("generic") is None


def test_strange_values_become_missing_fields() -> None:
    profile = providers.for_backend("google-oauth2").profile(
        {"sub": {"x": 1}, "email": True, "name": "   ", "picture": ["https://x"]}
    )
    assert profile == ProviderProfile()
    assert providers.for_backend("github").profile(["not", "a", "dict"]) == ProviderProfile()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://example.com/a.png",
        "/relative/avatar.png",
        "https://",
        "https://[::1",
        "https://example.com:notaport/a.png",
        "https://example.com/a b.png",
        "https://example.com/a\nHost: evil.test",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_avatar_urls_that_cannot_be_fetched_or_stored_are_dropped(url: str) -> None:
    assert providers.for_backend("oidc").profile({"picture": url}).avatar_url is None


def test_values_postgresql_cannot_store_are_dropped() -> None:
    profile = providers.for_backend("oidc").profile(
        {"sub": "a\x00b", "email": "ada@example.com\x00", "name": "Ada"}
    )
    assert (profile.uid, profile.email, profile.name) == (None, None, "Ada")


class Example(providers.Provider):
    id = "example"
    backend_names = ("example-oauth2",)
    allauth_ids = ("example",)
    name_key = "display_name"


@pytest.fixture
def example() -> Iterator[type[providers.Provider]]:
    registered = providers.register(Example)
    yield registered
    providers.unregister(Example.id)


def test_a_registered_provider_serves_its_names_until_unregistered(
    example: type[providers.Provider],
) -> None:
    assert example is Example
    payload = {"id": 5, "display_name": "Eve"}
    for extractor in (
        providers.for_backend("example-oauth2"),
        providers.for_allauth("example"),
        providers.for_id("example"),
    ):
        assert type(extractor) is Example
        assert extractor.profile(payload) == ProviderProfile(uid="5", name="Eve")
    assert providers.registered()[-1] is Example
    assert providers.registered()[: len(providers.PROVIDERS)] == providers.PROVIDERS
    providers.unregister("example")
    assert providers.for_backend("example-oauth2").id == "generic"
    assert providers.for_allauth("example").id == "generic"
    assert providers.for_id("example") is None
    assert Example not in providers.registered()


def test_registering_the_same_class_again_changes_nothing(
    example: type[providers.Provider],
) -> None:
    before = providers.registered()
    assert providers.register(Example) is Example
    assert providers.registered() == before


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"id": "github"}, "provider id 'github' is served by GitHub"),
        ({"backend_names": ("github",)}, "backend name 'github' is served by GitHub"),
        ({"allauth_ids": ("openid_connect",)}, "allauth id 'openid_connect' is served by"),
        ({"id": "generic"}, "the fallback's id"),
        ({"id": ""}, "id must be 1 to 64 characters"),
        ({"id": "x" * 65}, "id must be 1 to 64 characters"),
    ],
)
def test_a_clashing_provider_is_refused_and_nothing_registered(
    attributes: dict[str, Any], message: str
) -> None:
    clashing = type("Clashing", (providers.Provider,), {"id": "clashing", **attributes})
    before = providers.registered()
    with pytest.raises(ValueError, match=re.escape(message)):
        providers.register(clashing)
    assert providers.registered() == before
    assert providers.for_backend("github").id == "github"


def test_unregistering_an_unknown_id_changes_nothing() -> None:
    before = providers.registered()
    providers.unregister("no-such-provider")
    assert providers.registered() == before


def test_the_social_core_payload_holds_the_validated_id_token_claims() -> None:
    response = {"access_token": "at", "id_token": "raw.jwt.value", "sub": "1"}
    backend = SimpleNamespace(name="oidc", id_token={"sub": "1", "email": "a@example.com"})
    payload = providers.social_core_payload(backend, response)
    assert payload == {**response, "id_token": {"sub": "1", "email": "a@example.com"}}
    assert response["id_token"] == "raw.jwt.value", "the pipeline's response is left as it was"
    # Backends without validated claims (plain OAuth 2, or none yet) pass the response on.
    for other in (SimpleNamespace(name="github"), SimpleNamespace(name="oidc", id_token=None)):
        assert providers.social_core_payload(other, response) == response
    assert providers.social_core_payload(backend, None) == {"id_token": backend.id_token}
