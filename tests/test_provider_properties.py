"""Property tests: no provider payload, however strange, makes extraction raise.

A provider that changes its response shape, or sends a null, a number or a list where a string
was documented, must cost the user at most a missing field, never the login.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postlogin import providers
from postlogin.emails import normal_form, same_address
from postlogin.events import LoginEvent
from postlogin.kinds.avatar import plan_avatar
from postlogin.kinds.welcome_email import plan_welcome_email
from postlogin.testing import assert_well_formed

#: Every key an extractor reads, so that generated payloads reach every branch.
KNOWN_KEYS = [
    "id",
    "sub",
    "oid",
    "email",
    "mail",
    "upn",
    "userPrincipalName",
    "confirmed_email",
    "email_verified",
    "verified_email",
    "verified",
    "confirmed_at",
    "emails",
    "primary",
    "name",
    "login",
    "username",
    "global_name",
    "displayName",
    "firstName",
    "lastName",
    "_apple_user_name",
    "picture",
    "data",
    "url",
    "is_silhouette",
    "avatar",
    "avatar_url",
    "profile_image_url",
    "userinfo",
    "id_token",
]

TRICKY_TEXT = [
    "",
    " ",
    "\x00",
    "true",
    "TRUE",
    "false",
    "https://",
    "https://[::1",
    "https://example.com:99999/a.png",
    "http://127.0.0.1/",
    "javascript:alert(1)",
    "//example.com/a.png",
    "https://pbs.twimg.com/profile_images/1/_normal",
    "https://example.com/_normal.",
    "a_0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef",
    "12345678901234567890",
    "١٢٣",
    "x" * 3000,
]

text_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(TRICKY_TEXT),
    st.builds(
        lambda scheme, rest: f"{scheme}{rest}",
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "data:", ""]),
        st.text(max_size=40),
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # Past str()'s limit of 4300 digits (sys.get_int_max_str_digits()).
    st.integers(min_value=10**4300, max_value=10**4310),
    st.floats(allow_nan=True, allow_infinity=True),
    text_values,
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=25,
)
payloads = st.one_of(st.dictionaries(keys, json_values, max_size=12), json_values)

#: postlogin's own providers; a project's get the same checks from ProviderContract
#: (``test_odd_values_cost_a_field_never_the_login``).
EXTRACTORS: list[type[providers.Provider]] = [*providers.PROVIDERS, providers.Generic]


@pytest.mark.parametrize("extractor", EXTRACTORS, ids=[cls.id for cls in EXTRACTORS])
@settings(max_examples=150, deadline=None)
@given(payload=payloads)
def test_extraction_never_raises(extractor: type[providers.Provider], payload: Any) -> None:
    assert_well_formed(extractor().profile(payload))


@settings(max_examples=300, deadline=None)
@given(
    provider=st.sampled_from([cls.id for cls in EXTRACTORS]),
    payload=st.dictionaries(keys, json_values, max_size=12),
)
def test_what_is_extracted_can_be_planned_and_stored(provider: str, payload: Any) -> None:
    extractor = providers.for_id(provider) or providers.Generic()
    event = LoginEvent(
        user_id=1, provider=provider, is_new=True, profile=extractor.profile(payload)
    )
    spec = plan_avatar(event)
    welcome = plan_welcome_email(event)
    for planned in (spec, welcome):
        if planned is not None:
            # The payload goes into a JSON column in the login's own transaction.
            json.dumps(planned.payload, allow_nan=False)
            assert "\x00" not in json.dumps(planned.payload)
            assert len(planned.key) <= 128
    # The welcome email names an address only when the provider verified that very one.
    assert welcome.payload in ({}, {"verified_email": event.profile.email})
    assert bool(welcome.payload) == event.profile.email_verified


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.from_regex(r"[^@]{0,20}@[^@]{0,30}")))
def test_any_text_has_at_most_one_normal_form(text: str) -> None:
    form = normal_form(text)
    assert form is None or (normal_form(form) == form and "@" in form)
    assert same_address(text, text) == (form is not None)


ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
ascii_local = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
ascii_domain = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,2}\.[a-z]{2,6}", fullmatch=True)
#: Letters and the characters that imitate them: different characters, different addresses.
LOOK_ALIKES = {
    "i": ["\u0131", "\u0456", "\uff49", "\u00ed"],  # dotless i, Cyrillic i, fullwidth, í
    "k": ["\u212a", "\u03ba", "\uff4b"],  # Kelvin sign, Greek kappa, fullwidth
    "a": ["\u0430", "\uff41", "\u00e0"],  # Cyrillic a, fullwidth, à
    "o": ["\u043e", "\u03bf", "\u00f6"],  # Cyrillic o, Greek omicron, ö
    "s": ["\u0455", "\u017f", "\uff53"],  # Cyrillic dze, long s, fullwidth
    "ss": ["\u00df", "\u1e9e"],  # sharp s, capital sharp s
}


@settings(max_examples=150, deadline=None)
@given(
    local=ascii_local,
    domain=ascii_domain,
    data=st.data(),
)
def test_look_alikes_stay_distinct_and_ascii_case_does_not(
    local: str, domain: str, data: st.DataObject
) -> None:
    address = f"{local}@{domain}"
    assert normal_form(address) == address
    upper = "".join(data.draw(st.sampled_from([c, c.upper()])) for c in address)
    assert same_address(upper, address)
    candidates = [(key, alike) for key, alikes in LOOK_ALIKES.items() for alike in alikes]
    present = [(key, alike) for key, alike in candidates if key in address]
    if not present:
        return
    key, alike = data.draw(st.sampled_from(present))
    at = data.draw(st.sampled_from([i for i in range(len(address)) if address.startswith(key, i)]))
    spoof = address[:at] + alike + address[at + len(key) :]
    assert not same_address(spoof, address)
    # Nor once its ASCII letters change case (str.upper() would turn a dotless i into I).
    assert not same_address(spoof.translate(ASCII_UPPER), address)
