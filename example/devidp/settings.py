"""A small local OpenID Connect provider for the demo and the tests (django-oauth-toolkit).

Run it as its own process with ``DJANGO_SETTINGS_MODULE=devidp.settings``. It has its own
database, and its own session and CSRF cookie names: cookies are shared by every port of one
host, and with the default names logging in here would wipe the app's session.
"""

import os
from pathlib import Path

import dj_database_url

from .keys import load_or_create_private_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
PORT = int(os.environ.get("DEMO_IDP_PORT", "8001"))
#: Where browsers and the app reach this provider; the issuer is pinned to it.
PUBLIC_URL = os.environ.get("DEVIDP_PUBLIC_URL", f"http://127.0.0.1:{PORT}").rstrip("/")

SECRET_KEY = os.environ.get("DEVIDP_SECRET_KEY", "devidp-demo-only-insecure-secret-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "true").lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "devidp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "devidp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DEVIDP_DATABASE_URL", f"sqlite:///{VAR_DIR / 'devidp.sqlite3'}")
    )
}
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "/accounts/login/"
PASSWORD_HASHERS = ["devidp.hashers.DemoPBKDF2PasswordHasher"]
SESSION_COOKIE_NAME = "devidp_sessionid"
CSRF_COOKIE_NAME = "devidp_csrftoken"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    # Kept on disk: a new key with the same kid would break clients that cached the JWKS.
    "OIDC_RSA_PRIVATE_KEY": load_or_create_private_key(VAR_DIR / "devidp-oidc-key.pem"),
    "OIDC_ISS_ENDPOINT": f"{PUBLIC_URL}/o",
    "PKCE_REQUIRED": True,
    "OAUTH2_VALIDATOR_CLASS": "devidp.validators.ClaimsValidator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Your name and picture",
        "email": "Your email address",
    },
}

#: The slow, flaky avatar host: seconds of delay, and the share of requests that fail.
DEVIDP_AVATAR_DELAY = float(os.environ.get("DEVIDP_AVATAR_DELAY", "2"))
DEVIDP_AVATAR_FAIL_RATE = float(os.environ.get("DEVIDP_AVATAR_FAIL_RATE", "0"))

#: The demo's OpenID Connect client (the example app), created by `devidp_setup`.
DEVIDP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "postlogin-demo")
DEVIDP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "postlogin-demo-secret")
DEVIDP_REDIRECT_URIS = os.environ.get(
    "DEVIDP_REDIRECT_URIS",
    "http://127.0.0.1:{port}/complete/oidc/ http://127.0.0.1:{port}/accounts/oidc/devidp/login/callback/".format(
        port=os.environ.get("DEMO_WEB_PORT", "8000")
    ),
)
DEVIDP_PASSWORD = os.environ.get("DEVIDP_PASSWORD", "demo-password")
DEVIDP_USERS = [
    ("ada", "Ada Lovelace", "ada@example.com"),
    ("alan", "Alan Turing", "alan@example.com"),
    ("grace", "Grace Hopper", "grace@example.com"),
]
