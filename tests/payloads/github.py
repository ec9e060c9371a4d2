"""GitHub: the token response, ``GET /user`` and ``GET /user/emails``.

https://docs.github.com/en/rest/users/users#get-the-authenticated-user
https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
"""

GITHUB_TOKEN = {
    "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "scope": "read:user,user:email",
    "token_type": "bearer",
}
GITHUB_USER = {
    "login": "octocat",
    "id": 583231,
    "node_id": "MDQ6VXNlcjU4MzIzMQ==",
    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
    "gravatar_id": "",
    "url": "https://api.github.com/users/octocat",
    "html_url": "https://github.com/octocat",
    "type": "User",
    "site_admin": False,
    "name": "The Octocat",
    "company": "@github",
    "blog": "https://github.blog",
    "location": "San Francisco",
    "email": None,
    "hireable": None,
    "bio": None,
    "public_repos": 8,
    "followers": 9999,
    "following": 9,
    "created_at": "2011-01-25T18:44:36Z",
    "updated_at": "2024-01-22T12:00:00Z",
}
GITHUB_EMAILS = [
    {"email": "octocat@github.com", "verified": True, "primary": True, "visibility": "public"},
    {
        "email": "octocat@users.noreply.github.com",
        "verified": True,
        "primary": False,
        "visibility": None,
    },
]
