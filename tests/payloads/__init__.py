"""Provider payloads as the providers document them (user info merged with the token response,
which is what social-core passes to pipeline steps as ``response``)."""

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
