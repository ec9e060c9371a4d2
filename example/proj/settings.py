"""Settings for the example project. Every value that differs between machines comes from the
environment; the defaults run everything embedded (SQLite database, SQLite-backed broker)."""

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

from postlogin.schedules import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in ("1", "true", "yes", "on")


#: The social login stack: "social" (social-auth-app-django) or "allauth" (django-allauth).
DEMO_AUTH = os.environ.get("DEMO_AUTH", "social")
if DEMO_AUTH not in ("social", "allauth"):
    raise ImproperlyConfigured(f"DEMO_AUTH must be 'social' or 'allauth', not {DEMO_AUTH!r}")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-secret-key")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "postlogin",
    # Before allauth: its templates (the signup page) override allauth's.
    "accounts",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginTimingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if DEMO_AUTH == "allauth":
    MIDDLEWARE.append("allauth.account.middleware.AccountMiddleware")
else:
    # Turns social-auth errors (a stale sign-in, a cancelled consent) into a message on "/".
    MIDDLEWARE.append("social_django.middleware.SocialAuthExceptionMiddleware")
ROOT_URLCONF = "proj.urls"
WSGI_APPLICATION = "proj.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-level templates come first: templates/postlogin/ overrides the library's.
        "DIRS": [BASE_DIR / "templates"],
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
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        # A kept connection that a database restart or failover broke is replaced before use,
        # instead of failing the next request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one SQLite file: wait for locks, and let
    # readers run while a writer works.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
LOGIN_URL = "/"
LOGIN_REDIRECT_URL = "/profile/"
LOGOUT_REDIRECT_URL = "/"

_EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
_EMAIL_FILE_PATH = VAR_DIR / "sent-emails"
# Django's SMTP backend waits for ever by default: a hung mail server would hold a welcome
# email job past its lease.
_EMAIL_TIMEOUT = 10
if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings
    _MAILER_OPTIONS: dict[str, dict[str, object]] = {
        "django.core.mail.backends.filebased.EmailBackend": {"file_path": str(_EMAIL_FILE_PATH)},
        "django.core.mail.backends.smtp.EmailBackend": {"timeout": _EMAIL_TIMEOUT},
    }
    MAILERS = {
        "default": {
            "BACKEND": _EMAIL_BACKEND,
            "OPTIONS": _MAILER_OPTIONS.get(_EMAIL_BACKEND, {}),
        }
    }
else:
    EMAIL_BACKEND = _EMAIL_BACKEND
    EMAIL_FILE_PATH = _EMAIL_FILE_PATH
    EMAIL_TIMEOUT = _EMAIL_TIMEOUT
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "welcome@demo.localhost")

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

# --- social-auth -----------------------------------------------------------------------------
if DEMO_AUTH == "social":
    INSTALLED_APPS.insert(INSTALLED_APPS.index("postlogin"), "social_django")
    TEMPLATES[0]["OPTIONS"]["context_processors"].append(
        "social_django.context_processors.backends"
    )
if DEMO_AUTH == "social" and os.environ.get("GOOGLE_CLIENT_ID"):
    AUTHENTICATION_BACKENDS.insert(0, "social_core.backends.google.GoogleOAuth2")
    SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = os.environ["GOOGLE_CLIENT_ID"]
    SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = os.environ.get("GOOGLE_CLIENT_SECRET", "")
if DEMO_AUTH == "social" and os.environ.get("GITHUB_CLIENT_ID"):
    AUTHENTICATION_BACKENDS.insert(0, "social_core.backends.github.GithubOAuth2")
    SOCIAL_AUTH_GITHUB_KEY = os.environ["GITHUB_CLIENT_ID"]
    SOCIAL_AUTH_GITHUB_SECRET = os.environ.get("GITHUB_CLIENT_SECRET", "")
    SOCIAL_AUTH_GITHUB_SCOPE = ["user:email"]
if DEMO_AUTH == "social" and os.environ.get("OIDC_ENDPOINT"):
    AUTHENTICATION_BACKENDS.insert(0, "social_core.backends.open_id_connect.OpenIdConnectAuth")
    SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = os.environ["OIDC_ENDPOINT"].rstrip("/")
    SOCIAL_AUTH_OIDC_KEY = os.environ.get("OIDC_CLIENT_ID", "")
    SOCIAL_AUTH_OIDC_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
    SOCIAL_AUTH_OIDC_USE_PKCE = True

SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/profile/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/"
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    # Links a login to an existing account only when the provider says the email is verified.
    "postlogin.social.pipeline.associate_by_verified_email",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    # The onboarding gate: a new account gives a phone number before the login completes.
    "postlogin.social.pipeline.require_phone_number",
    # After the user row exists and the gate is passed: record the slow work, published once
    # the login commits.
    "postlogin.social.pipeline.schedule_post_login_tasks",
)

# --- django-allauth --------------------------------------------------------------------------
if DEMO_AUTH == "allauth":
    INSTALLED_APPS += [
        "allauth",
        "allauth.account",
        "allauth.socialaccount",
        "allauth.socialaccount.providers.openid_connect",
        # After allauth's apps: records the post-login jobs of allauth's social logins.
        "postlogin.allauth",
    ]
    AUTHENTICATION_BACKENDS.append("allauth.account.auth_backends.AuthenticationBackend")
    SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
    if os.environ.get("OIDC_ENDPOINT"):
        local = bool(os.environ.get("DEMO_LOCAL_IDP"))
        SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
            "APPS": [
                {
                    # Callback: /accounts/oidc/<provider_id>/login/callback/
                    "provider_id": "devidp" if local else "oidc",
                    "name": "the local identity provider" if local else "OpenID Connect",
                    "client_id": os.environ.get("OIDC_CLIENT_ID", ""),
                    "secret": os.environ.get("OIDC_CLIENT_SECRET", ""),
                    "settings": {
                        "server_url": os.environ["OIDC_ENDPOINT"].rstrip("/"),
                        "oauth_pkce_enabled": True,
                    },
                }
            ]
        }
    for _name in ("google", "github"):
        if os.environ.get(f"{_name.upper()}_CLIENT_ID"):
            INSTALLED_APPS.insert(-1, f"allauth.socialaccount.providers.{_name}")
            SOCIALACCOUNT_PROVIDERS[_name] = {
                "APPS": [
                    {
                        "client_id": os.environ[f"{_name.upper()}_CLIENT_ID"],
                        "secret": os.environ.get(f"{_name.upper()}_CLIENT_SECRET", ""),
                    }
                ]
            }
    SOCIALACCOUNT_QUERY_EMAIL = True  # GitHub: ask for the addresses, not only the public one
    # Keep the tokens: the profile re-sync in the beat schedule calls the provider with them.
    SOCIALACCOUNT_STORE_TOKENS = True
    # The onboarding gate: a new account gives a phone number on allauth's signup page.
    SOCIALACCOUNT_AUTO_SIGNUP = False
    SOCIALACCOUNT_FORMS = {"signup": "postlogin.allauth.forms.PhoneSignupForm"}

# --- django-postlogin ------------------------------------------------------------------------
POSTLOGIN = {
    "SIGNUP_JOBS": ["welcome_email"],
    # "login_history" is the example's own job kind (accounts/jobs.py).
    "LOGIN_JOBS": ["avatar", "login_history"],
    "PHONE_REQUIRED_FOR": "new_users",
    # One webhook endpoint from the environment, to try any Standard Webhooks receiver.
    "WEBHOOKS": (
        [
            {
                "name": "env",
                "url": os.environ["POSTLOGIN_WEBHOOK_URL"],
                "secret": os.environ.get("POSTLOGIN_WEBHOOK_SECRET", ""),
            }
        ]
        if os.environ.get("POSTLOGIN_WEBHOOK_URL")
        else []
    ),
    # Any other key, from the environment as JSON: POSTLOGIN_JSON='{"MAX_RETRIES": 1}'.
    **json.loads(os.environ.get("POSTLOGIN_JSON", "{}")),
}
if DEBUG:
    # A provider running on this machine (OIDC_ENDPOINT on 127.0.0.1) serves its pictures over
    # plain http from loopback: allow exactly that for the demo. Deployed, the defaults fetch
    # public https URLs only (docs/security.md).
    POSTLOGIN |= {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": ["127.0.0.0/8"]}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL",
    os.environ.get("REDIS_URL", f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"),
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that hangs must not hang a login: bound connecting and every socket read/write.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
_broker_scheme = urlsplit(CELERY_BROKER_URL).scheme
if _broker_scheme in ("redis", "rediss"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
        "max_retries": 1,
        # Longer than any retry countdown (POSTLOGIN RETRY_BACKOFF_MAX defaults to 600 s).
        "visibility_timeout": 3600,
    }
elif _broker_scheme in ("amqp", "amqps", "pyamqp"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"read_timeout": 2, "write_timeout": 2, "max_retries": 1}

# Beat: the relay publishes jobs left pending by a broker outage, lost messages and jobs whose
# worker died. No django-celery-beat needed.
CELERY_BEAT_SCHEDULE = {**beat_schedule(relay_every=5.0)}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"postlogin": {"handlers": ["console"], "level": "INFO"}},
}
