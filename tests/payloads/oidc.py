"""A generic OpenID Connect provider: the userinfo response of the OpenID Connect Core spec.

https://openid.net/specs/openid-connect-core-1_0.html#UserInfoResponse
"""

OIDC_USERINFO = {
    "sub": "248289761001",
    "name": "Jane Doe",
    "given_name": "Jane",
    "family_name": "Doe",
    "preferred_username": "j.doe",
    "email": "janedoe@example.com",
    "email_verified": True,
    "picture": "https://idp.example.com/janedoe/me.jpg",
}
