"""The social-auth-app-django integration: pipeline steps, the onboarding gate and its page,
partial-pipeline clean-up, the account source for re-sync and its stored tokens, and the
``SOCIAL_AUTH_PIPELINE`` checks.

Not an app of its own: ``"postlogin"``'s ``ready()`` calls :func:`ready` when
``social_django`` is installed, and only then is anything here (or social-auth) imported.
"""


def ready() -> None:
    """Register the pipeline checks and the ``social_auth`` account source."""
    from ..accounts import register_source
    from . import checks, sync  # noqa: F401  (checks register themselves)

    register_source("social_auth", sync.SOURCE, app="social_django")
