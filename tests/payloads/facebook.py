"""Facebook: the token response and ``GET /me`` with the fields social-core asks for when
``SOCIAL_AUTH_FACEBOOK_PROFILE_EXTRA_PARAMS = {"fields": "id,name,email,picture.type(large)"}``.

https://developers.facebook.com/docs/graph-api/reference/user/
https://developers.facebook.com/docs/graph-api/reference/user/picture/
"""

FACEBOOK_TOKEN = {
    "access_token": "EAAGm0PX4ZCpsBAJ3y1qZB4ZB6ZCfacebook-access-token",
    "token_type": "bearer",
    "expires_in": 5183944,
}
FACEBOOK_PICTURE_URL = (
    "https://platform-lookaside.fbsbx.com/platform/profilepic/"
    "?asid=10158012345678901&height=200&width=200&ext=1767225600&hash=AbYx3nQ2"
)
FACEBOOK_ME = {
    "id": "10158012345678901",
    "name": "Ada Lovelace",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "picture": {
        "data": {
            "height": 200,
            "is_silhouette": False,
            "url": FACEBOOK_PICTURE_URL,
            "width": 200,
        }
    },
}
#: ``GET /me`` without the picture field (the default fields).
FACEBOOK_ME_PLAIN = {"id": "10158012345678901", "name": "Ada Lovelace", "email": "ada@example.com"}
