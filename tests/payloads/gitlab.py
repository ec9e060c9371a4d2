"""GitLab: the token response and ``GET /api/v4/user`` (the current user, who sees their own
``email`` and ``confirmed_at``).

https://docs.gitlab.com/api/users/#for-non-administrator-users
"""

GITLAB_TOKEN = {
    "access_token": "de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54",
    "token_type": "Bearer",
    "expires_in": 7200,
    "refresh_token": "8257e65c97202ed1726cf9571600918f3bffb2544b26e00a61df9897668c33a1",
    "created_at": 1607635748,
    "scope": "read_user openid",
}
GITLAB_USER = {
    "id": 1,
    "username": "john_smith",
    "email": "john@example.com",
    "name": "John Smith",
    "state": "active",
    "locked": False,
    "avatar_url": "https://gitlab.com/uploads/-/system/user/avatar/1/avatar.png",
    "web_url": "https://gitlab.com/john_smith",
    "created_at": "2012-05-23T08:00:58Z",
    "bio": "",
    "location": "",
    "public_email": "",
    "website_url": "",
    "organization": "",
    "job_title": "Operations Specialist",
    "last_sign_in_at": "2012-06-01T11:41:01Z",
    "confirmed_at": "2012-05-23T09:05:22Z",
    "theme_id": 1,
    "last_activity_on": "2012-05-23",
    "color_scheme_id": 2,
    "projects_limit": 100,
    "current_sign_in_at": "2012-06-02T06:36:55Z",
    "identities": [],
    "can_create_group": True,
    "can_create_project": True,
    "two_factor_enabled": True,
    "external": False,
    "private_profile": False,
}
