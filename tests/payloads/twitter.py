"""X (Twitter) OAuth 2.0: the token response and the ``data`` of ``GET /2/users/me`` with the
user fields social-core asks for (plus ``confirmed_email``, when the app has the email scope).

https://docs.x.com/x-api/users/user-lookup-me
"""

X_TOKEN = {
    "token_type": "bearer",
    "expires_in": 7200,
    "access_token": "VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNNdmVHelJGY2hPWGxNd2dxOjE2MjI",
    "scope": "tweet.read users.read users.email offline.access",
    "refresh_token": "bWRWa3gzdnk3WHRGU1o0bmRRcTJ5VUxWX1lZTDdJSUt6bWhqdjBBOj",
}
X_USER = {
    "id": "2244994945",
    "name": "Developers",
    "username": "XDevelopers",
    "created_at": "2013-12-14T04:35:55.000Z",
    "description": "The voice of the X Dev team and your official source for updates.",
    "location": "127.0.0.1",
    "pinned_tweet_id": "1769828562307203103",
    "profile_image_url": (
        "https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg"
    ),
    "protected": False,
    "public_metrics": {
        "followers_count": 583423,
        "following_count": 2048,
        "tweet_count": 14052,
        "listed_count": 1672,
        "like_count": 2374,
    },
    "url": "https://t.co/3ZX3TNiZCY",
    "verified": False,
    "verified_type": "none",
    "confirmed_email": "devs@example.com",
}
