"""Sign In with LinkedIn using OpenID Connect: the token response and ``GET /v2/userinfo``.

https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2
"""

LINKEDIN_TOKEN = {
    "access_token": "AQUEvNIaT0W5tumsBKzwYT2R7Mz6XvfE4fFzjRzmWyYdOGVPvXlinkedin-token",
    "expires_in": 5183999,
    "scope": "email,openid,profile",
    "token_type": "Bearer",
    "id_token": "eyJ6aXAiOiJERUYiLCJraWQiOiJkOTI5YzYzZi1hMjVlIiwiYWxnIjoiUlMyNTYifQ.e30.sig",
}
LINKEDIN_USERINFO = {
    "sub": "782bbtaQ",
    "name": "John Doe",
    "given_name": "John",
    "family_name": "Doe",
    "picture": (
        "https://media.licdn-ei.com/dms/image/C5F03AQHqK8v7tB1HCQ/"
        "profile-displayphoto-shrink_100_100/0/"
    ),
    "locale": "en-US",
    "email": "doe@email.com",
    "email_verified": True,
}
