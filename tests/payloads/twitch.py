"""Twitch, one user seen through each login library (the example provider of docs/extending.md).

social-core's ``twitch`` backend (``TwitchOpenIdConnect``, social-auth-core 7.0.0) signs in
with OpenID Connect: scopes ``openid user:read:email`` and a ``claims`` parameter asking for
``email``, ``email_verified`` and ``preferred_username`` in the ID token only, so userinfo
answers with Twitch's default claims alone.
https://dev.twitch.tv/docs/authentication/getting-tokens-oidc/

django-allauth's ``twitch`` provider (65.21.1) keeps ``GET /helix/users`` (``data[0]``) as
``SocialAccount.extra_data``. https://dev.twitch.tv/docs/api/reference/#get-users

Values follow the examples on those pages, made into one user.
"""

TWITCH_CLIENT_ID = "hof5gwx0su6owfnys0yan9c87zr6t"
TWITCH_TOKEN = {
    "access_token": "rfx2uswqe8l4g1mkagrvg5tv0ks3",
    "expires_in": 14124,
    "id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIxNDE5ODE3NjQifQ.c2ln",
    "refresh_token": "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01",
    "scope": ["openid", "user:read:email"],
    "token_type": "bearer",
}
#: The ID token's claims, as social-core validated them (``backend.id_token``).
TWITCH_ID_TOKEN_CLAIMS = {
    "aud": TWITCH_CLIENT_ID,
    "azp": TWITCH_CLIENT_ID,
    "exp": 1644009798,
    "iat": 1644008898,
    "iss": "https://id.twitch.tv/oauth2",
    "sub": "141981764",
    "nonce": "0f3dd5c8e6b14b4b9b1b2c9c1f0a7e61",
    "email": "not-real@email.com",
    "email_verified": True,
    "preferred_username": "TwitchDev",
}
#: ``GET https://id.twitch.tv/oauth2/userinfo`` when no userinfo claim was asked for.
TWITCH_USERINFO = {
    "aud": TWITCH_CLIENT_ID,
    "exp": 1644009798,
    "iat": 1644008898,
    "iss": "https://id.twitch.tv/oauth2",
    "sub": "141981764",
}
#: ``GET https://api.twitch.tv/helix/users`` with the user's token, ``data[0]``.
TWITCH_HELIX_USER = {
    "id": "141981764",
    "login": "twitchdev",
    "display_name": "TwitchDev",
    "type": "",
    "broadcaster_type": "partner",
    "description": "Supporting third-party developers building Twitch integrations.",
    "profile_image_url": (
        "https://static-cdn.jtvnw.net/jtv_user_pictures/"
        "8a6381c7-d0c0-4576-b179-38bd5ce1d6af-profile_image-300x300.png"
    ),
    "offline_image_url": (
        "https://static-cdn.jtvnw.net/jtv_user_pictures/"
        "3f13ab61-ec78-4fe6-8481-8682cb3b0ac2-channel_offline_image-1920x1080.png"
    ),
    "view_count": 5980557,
    "email": "not-real@email.com",
    "created_at": "2016-12-14T20:32:28Z",
}
