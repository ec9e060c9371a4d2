"""The built-in job kinds, one module each, and the constants that name them.

Each module declares its kind as ``KIND``, a :class:`~postlogin.jobs.JobKind` (plan, handler,
rate-limit key); ``PostloginConfig.ready()`` (:mod:`postlogin.apps`) registers them all from
one list when Django starts, so that every web process and worker knows every kind.
Elsewhere in postlogin a built-in kind is referred to by these constants, never by a string.
"""

AVATAR = "avatar"
WELCOME_EMAIL = "welcome_email"
WEBHOOK = "webhook"
PROFILE_SYNC = "profile_sync"
