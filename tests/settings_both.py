"""Test settings for a project with both social-auth-app-django and django-allauth installed
(for example while it moves from one to the other)."""

from .settings import *  # noqa: F403
from .settings import AUTHENTICATION_BACKENDS as SOCIAL_BACKENDS
from .settings import INSTALLED_APPS
from .settings_allauth import (  # noqa: F401
    ALLAUTH_APPS,
    LOGIN_REDIRECT_URL,
    MIDDLEWARE,
    SOCIALACCOUNT_PROVIDERS,
    SOCIALACCOUNT_QUERY_EMAIL,
    SOCIALACCOUNT_STORE_TOKENS,
)
from .settings_allauth import AUTHENTICATION_BACKENDS as ALLAUTH_BACKENDS

INSTALLED_APPS = [*INSTALLED_APPS, *ALLAUTH_APPS]
AUTHENTICATION_BACKENDS = list(dict.fromkeys([*SOCIAL_BACKENDS, *ALLAUTH_BACKENDS]))
