"""Verified-email linking compares addresses on one normal form, not the database's ``iexact``.

Run on SQLite (the default) and on PostgreSQL (``DATABASE_URL``), where ``iexact`` is
``UPPER(a) = UPPER(b)`` and the dotless i (U+0131) is upper-cased to ``I``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from postlogin.emails import normal_form, same_address
from postlogin.social.pipeline import associate_by_verified_email

from .payloads import OIDC_USERINFO

pytestmark = pytest.mark.django_db

DOTLESS_I = "\u0131"
KELVIN = "\u212a"
FULLWIDTH_A = "\uff41"
SHARP_S = "\u00df"
COMBINING_ACUTE = "\u0301"

#: (an existing account's address, a look-alike that a provider verifies for somebody else)
LOOK_ALIKES = [
    pytest.param("victim@github.com", f"victim@g{DOTLESS_I}thub.com", id="dotless-i-domain"),
    pytest.param("victim@github.com", f"v{DOTLESS_I}ctim@github.com", id="dotless-i-local"),
    pytest.param("ada@example.com", f"{FULLWIDTH_A}da@example.com", id="fullwidth-local"),
    pytest.param("ada@example.com", f"ada@ex{FULLWIDTH_A}mple.com", id="fullwidth-domain"),
    pytest.param("strasse@example.de", f"stra{SHARP_S}e@example.de", id="sharp-s-for-ss"),
    pytest.param(f"stra{SHARP_S}e@example.de", "strasse@example.de", id="ss-for-sharp-s"),
    pytest.param("ada@example.com", "ada@example.com.", id="trailing-dot"),
]
#: Addresses holding a code point that NFC replaces by the letter it imitates.
KELVIN_LOOK_ALIKES = [
    pytest.param("kim@example.com", f"{KELVIN}im@example.com", id="kelvin-sign-local"),
    pytest.param("kim@kiwi.example", f"kim@{KELVIN}iwi.example", id="kelvin-sign-domain"),
]


def account(username: str, email: str) -> Any:
    """A user with ``email`` stored as given (``create_user`` would lower-case its domain)."""
    return get_user_model().objects.create(username=username, email=email)


def link(email: str, *, verified: bool = True) -> Any:
    """Run the pipeline step for an OpenID Connect login that asserts ``email``."""
    response = {**OIDC_USERINFO, "email": email, "email_verified": verified}
    return associate_by_verified_email(
        SimpleNamespace(request=None),
        {"email": email},
        SimpleNamespace(name="oidc"),
        response=response,
    )


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES)
def test_a_verified_look_alike_address_is_not_linked(existing: str, look_alike: str) -> None:
    account("victim", existing)
    # Not this account: a new one is created for the look-alike's owner.
    assert link(look_alike) is None


@pytest.mark.parametrize(("existing", "look_alike"), KELVIN_LOOK_ALIKES)
def test_an_address_with_a_kelvin_sign_is_refused(existing: str, look_alike: str) -> None:
    """Django's normalize_email() would store its domain with a plain k: the new account
    would have the same address as the existing one."""
    account("victim", existing)
    refused = link(look_alike)
    assert getattr(refused, "status_code", None) == 403
    assert "imitates another one" in refused.content.decode()


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES + KELVIN_LOOK_ALIKES)
def test_a_look_alike_account_does_not_stop_the_owner_from_linking(
    existing: str, look_alike: str
) -> None:
    owner = account("owner", existing)
    account("look-alike", look_alike)
    assert link(existing) == {"user": owner, "is_new": False}


@pytest.mark.parametrize(
    ("existing", "login"),
    [
        pytest.param("Ada@Example.COM", "ada@example.com", id="ascii-case"),
        pytest.param("Jos\u00e9@example.com", f"Jose{COMBINING_ACUTE}@example.com", id="nfc"),
        pytest.param("ana@xn--bcher-kva.example", "ana@b\u00fccher.example", id="punycode"),
        pytest.param("ana@B\u00fccher.example", "ana@xn--bcher-kva.example", id="unicode-domain"),
    ],
)
def test_the_same_address_in_another_spelling_is_linked(existing: str, login: str) -> None:
    owner = account("owner", existing)
    assert link(login) == {"user": owner, "is_new": False}


def test_an_unverified_address_is_still_refused() -> None:
    account("owner", "ada@example.com")
    assert getattr(link("ADA@example.com", verified=False), "status_code", None) == 403


def test_the_verified_address_must_be_the_address_linked() -> None:
    """The provider verified one address, the login details carry a look-alike of it."""
    owner = account("owner", "victim@github.com")
    response = {**OIDC_USERINFO, "email": f"victim@g{DOTLESS_I}thub.com", "email_verified": True}
    refused = associate_by_verified_email(
        SimpleNamespace(request=None),
        {"email": "victim@github.com"},
        SimpleNamespace(name="oidc"),
        response=response,
    )
    assert getattr(refused, "status_code", None) == 403
    assert refused != {"user": owner, "is_new": False}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        (f"victim@g{DOTLESS_I}thub.com", "victim@xn--gthub-n4a.com"),
        ("J\u00c9@example.com", "j\u00c9@example.com"),  # only ASCII letters are lowered
        (f"{KELVIN}im@example.com", None),  # NFC would make it K: no normal form
        ("no-at-sign", None),
        ("@example.com", None),
        ("ada@", None),
        ("", None),
        (None, None),
    ],
)
def test_normal_form(text: str | None, expected: str | None) -> None:
    assert normal_form(text) == expected


def test_an_address_without_a_normal_form_is_the_same_as_nothing() -> None:
    assert not same_address(f"{KELVIN}im@example.com", f"{KELVIN}im@example.com")
    assert not same_address(None, None)


def test_an_email_verified_only_in_the_id_token_links() -> None:
    """Twitch's userinfo holds only the subject: the verified email is in the ID token's
    claims, which social-core validated and keeps on the backend."""
    from .payloads.twitch import TWITCH_TOKEN, TWITCH_USERINFO

    existing = account("streamer", "not-real@email.com")
    claims = {"sub": TWITCH_USERINFO["sub"], "email": "not-real@email.com", "email_verified": True}
    linked = associate_by_verified_email(
        SimpleNamespace(request=None),
        {"email": "not-real@email.com"},
        SimpleNamespace(name="oidc", id_token=claims),
        response={**TWITCH_TOKEN, **TWITCH_USERINFO},
    )
    assert linked == {"user": existing, "is_new": False}
