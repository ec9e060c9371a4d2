"""Django system checks for a postlogin project (``manage.py check``; tag ``postlogin``).

Every message has a stable id, ``postlogin.E001``, ``postlogin.W001``..., and a hint naming the
fix. An id is never reused: docs/checks.md lists them all, a retired one marked "reserved".
The ``SOCIAL_AUTH_PIPELINE`` checks live with the social-auth integration
(:mod:`postlogin.social.checks`), registered only when social-auth is installed.
"""

from . import celery_config, conf, email, kinds

__all__ = ["celery_config", "conf", "email", "kinds"]
