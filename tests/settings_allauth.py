"""Test settings for a project on django-allauth only: social-auth-app-django is not installed.

Everything else is ``tests.settings``; its ``SOCIAL_AUTH_*`` values stay behind, unread.
"""

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, MIDDLEWARE

ALLAUTH_APPS = [
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.gitlab",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.openid_connect",
    "postlogin.allauth",
]
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "social_django"] + ALLAUTH_APPS
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_REDIRECT_URL = "/done/"

# Apps from settings, as most projects configure them (no SocialApp rows needed).
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": [{"client_id": "google-client-id", "secret": "google-client-secret"}],
        "SCOPE": ["openid", "profile", "email"],
    },
    "github": {
        "APPS": [{"client_id": "github-client-id", "secret": "github-client-secret"}],
    },
    # Both take the access token in the query string.
    "facebook": {
        "APPS": [{"client_id": "facebook-app-id", "secret": "facebook-app-secret"}],
    },
    "gitlab": {
        "APPS": [{"client_id": "gitlab-client-id", "secret": "gitlab-client-secret"}],
    },
    "microsoft": {
        "APPS": [{"client_id": "microsoft-client-id", "secret": "microsoft-client-secret"}],
    },
    # The local identity provider (example/devidp): its port is set by the tests that start it.
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "devidp",
                "name": "the local identity provider",
                "client_id": "postlogin-demo",
                "secret": "postlogin-demo-secret",
                "settings": {"server_url": "http://127.0.0.1:9/o", "oauth_pkce_enabled": True},
            }
        ]
    },
}
# Ask GitHub for the user's addresses (scope user:email), like SOCIAL_AUTH_GITHUB_SCOPE does.
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = True
