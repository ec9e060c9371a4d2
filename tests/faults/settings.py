"""Settings of the processes a fault test starts (login driver, worker with beat): the suite's
settings plus what a deployment needs to ride out database faults (docs/operations.md)."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

# Worker threads keep their connection between tasks; a connection that a restart broke is
# checked before reuse and replaced instead of failing the next task.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# While the database is down, pages answer 503 with Retry-After instead of 500.
ROOT_URLCONF = "tests.faults.urls"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "postlogin": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}
