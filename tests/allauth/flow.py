"""Drive an allauth social login through the real views; outside providers answered by
`responses` with the payloads they document."""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from ..payloads import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_TOKEN, GOOGLE_USERINFO

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
#: allauth reads Google's profile from the ID token of the token response.
GOOGLE_ID_TOKEN_CLAIMS = {
    "iss": "https://accounts.google.com",
    "azp": "google-client-id",
    "aud": "google-client-id",
    "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
    **{key: value for key, value in GOOGLE_USERINFO.items() if key != "locale"},
}


@functools.cache
def _signing_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def google_id_token(**claims: Any) -> str:
    """An RS256 ID token shaped like Google's, valid for an hour from now."""
    now = int(time.time())
    payload = {**GOOGLE_ID_TOKEN_CLAIMS, "iat": now, "exp": now + 3600, "jti": uuid.uuid4().hex}
    payload.update(claims)
    return jwt.encode(
        payload,
        _signing_key(),
        algorithm="RS256",
        headers={"kid": "c8ab71530972bba20b49f78a09c9852c43ff9118"},
    )


def mock_google(rsps: responses.RequestsMock, **claims: Any) -> None:
    """Google's token endpoint; each call answers with a fresh ID token carrying ``claims``."""

    def token(request: Any) -> tuple[int, dict[str, str], str]:
        import json

        body = {**GOOGLE_TOKEN, "id_token": google_id_token(**claims)}
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body)

    rsps.add_callback(responses.POST, GOOGLE_TOKEN_URL, token)


def mock_github(rsps: responses.RequestsMock) -> None:
    rsps.post("https://github.com/login/oauth/access_token", json=GITHUB_TOKEN)
    rsps.get("https://api.github.com/user", json=GITHUB_USER)
    rsps.get("https://api.github.com/user/emails", json=GITHUB_EMAILS)


def begin(client: Client, login_path: str) -> str:
    """POST allauth's begin URL (a GET only shows a confirmation page); returns the
    provider's authorization URL the browser is sent to."""
    response = client.post(login_path)
    assert response.status_code == 302, response
    return str(response["Location"])


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def allauth_login(client: Client, provider: str) -> Any:
    """The whole round trip for ``google`` or ``github``: begin, then the provider's callback."""
    query = query_of(begin(client, f"/accounts/{provider}/login/"))
    callback = urlsplit(query["redirect_uri"]).path
    return client.get(callback, {"code": "authorization-code", "state": query["state"]})
