"""Settings for the test suite, social-auth-app-django only (``settings_allauth`` and
``settings_both`` derive from these). ``DATABASE_URL`` picks the database (SQLite by default)."""

import json
import os
import tempfile

import dj_database_url
import django

from postlogin.schedules import beat_schedule

SECRET_KEY = "postlogin-tests-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "social_django",
    "postlogin",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
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
        os.environ.get("DATABASE_URL", "sqlite:///:memory:"), conn_max_age=0
    )
}
# Worker subprocesses started by the tests share these with the test process.
MEDIA_ROOT = os.environ.get("POSTLOGIN_TEST_MEDIA_ROOT") or tempfile.mkdtemp(
    prefix="postlogin-tests-media-"
)
_EMAIL_BACKEND = os.environ.get(
    "POSTLOGIN_TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
_EMAIL_DIR = os.environ.get("POSTLOGIN_TEST_EMAIL_DIR")
if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings
    MAILERS = {
        "default": {
            "BACKEND": _EMAIL_BACKEND,
            "OPTIONS": {"file_path": _EMAIL_DIR} if _EMAIL_DIR else {},
        }
    }
else:
    EMAIL_BACKEND = _EMAIL_BACKEND
    EMAIL_FILE_PATH = _EMAIL_DIR
# The suite's picture hosts are loopback servers on plain http: allow exactly that. A test that
# replaces POSTLOGIN wholesale starts from this dict ({**TEST_POSTLOGIN, ...}) to keep it.
# Loopback fetching is what the tests need, and what postlogin.W008 warns about outside DEBUG.
SILENCED_SYSTEM_CHECKS = ["postlogin.W008"]
TEST_POSTLOGIN = {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": ["127.0.0.0/8"]}
POSTLOGIN = {**TEST_POSTLOGIN, **json.loads(os.environ.get("POSTLOGIN_TEST_SETTINGS", "{}"))}
DEFAULT_FROM_EMAIL = "welcome@example.com"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTHENTICATION_BACKENDS = [
    "social_core.backends.google.GoogleOAuth2",
    "social_core.backends.github.GithubOAuth2",
    "social_core.backends.open_id_connect.OpenIdConnectAuth",
    "django.contrib.auth.backends.ModelBackend",
]
SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = "google-client-id"
SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = "google-client-secret"
SOCIAL_AUTH_GITHUB_KEY = "github-client-id"
SOCIAL_AUTH_GITHUB_SECRET = "github-client-secret"
SOCIAL_AUTH_GITHUB_SCOPE = ["user:email"]
SOCIAL_AUTH_RAISE_EXCEPTIONS = True
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/done/"
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    "postlogin.social.pipeline.schedule_post_login_tasks",
)
LOGIN_URL = "/login-page/"
LOGIN_ERROR_URL = "/login-error/"

# Celery: tests build their own app per broker (tests/helpers.py: celery_app); these settings
# are what postlogin's system checks read when no app is current.
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {**beat_schedule()}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "WARNING"},
}
