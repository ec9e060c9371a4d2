"""Google: the token response and OpenID Connect userinfo (``/oauth2/v3/userinfo``).

https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload
"""

GOOGLE_TOKEN = {
    "access_token": "ya29.a0AfB_byC-google-access-token",
    "expires_in": 3599,
    "scope": "openid https://www.googleapis.com/auth/userinfo.email "
    "https://www.googleapis.com/auth/userinfo.profile",
    "token_type": "Bearer",
    "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.signature",
}
GOOGLE_USERINFO = {
    "sub": "110169484474386276334",
    "name": "Ada Lovelace",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ-ada=s96-c",
    "email": "ada@example.com",
    "email_verified": True,
    "locale": "en",
}
