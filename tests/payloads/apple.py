"""Sign in with Apple: the decoded ID token claims (what social-core's ``apple-id`` backend
passes as the response) and the name Apple posts beside it on the first login only.

https://developer.apple.com/documentation/signinwithapple/authenticating-users-with-sign-in-with-apple
"""

APPLE_ID_TOKEN_CLAIMS = {
    "iss": "https://appleid.apple.com",
    "aud": "com.example.web",
    "exp": 1767312000,
    "iat": 1767225600,
    "sub": "001234.5e3f4c8d2b7a4e1f9c0d6b5a4e3f2c1d.1234",
    "c_hash": "x3nQ2AbYhKd8Vx1bRk0PQA",
    "email": "k7xq2m9v4t@privaterelay.appleid.com",
    "email_verified": "true",
    "is_private_email": "true",
    "auth_time": 1767225600,
    "nonce_supported": True,
}
#: The ``user`` form field of the first login, as social-core keeps it in the response.
APPLE_FIRST_LOGIN_NAME = {"_apple_user_name": {"firstName": "Ada", "lastName": "Lovelace"}}
