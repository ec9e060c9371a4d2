"""Settings for the benchmarks: the example project's own, changed only where a variant says.

``BENCH_VARIANT`` (environment) picks the post-login step at the end of the pipeline:

- ``bare``: none (the floor: a social login with no post-login work at all);
- ``offload``, ``offload-broker-down``, ``offload-broker-hung``: django-postlogin's step, as
  shipped (the broker URL, from ``CELERY_BROKER_URL``, is what differs);
- ``inline``: :func:`bench.inline.fetch_avatar_and_send_welcome_email`, the same work done
  inside the request (the anti-pattern the project replaces).

No variant has the example's onboarding gate (a phone number at signup), and avatars may be
fetched from the benchmarks' loopback host.

Everything else comes from ``example/proj/settings.py`` and the environment it reads.
"""

import os

from django.core.exceptions import ImproperlyConfigured
from proj.settings import *  # noqa: F403
from proj.settings import MIDDLEWARE, POSTLOGIN
from proj.settings import SOCIAL_AUTH_PIPELINE as EXAMPLE_PIPELINE

VARIANTS = ("bare", "offload", "inline", "offload-broker-down", "offload-broker-hung")
POSTLOGIN_STEP = "postlogin.social.pipeline.schedule_post_login_tasks"
INLINE_STEP = "bench.inline.fetch_avatar_and_send_welcome_email"
GATE_STEP = "postlogin.social.pipeline.require_phone_number"

BENCH_VARIANT = os.environ.get("BENCH_VARIANT", "offload")
if BENCH_VARIANT not in VARIANTS:
    raise ImproperlyConfigured(f"BENCH_VARIANT must be one of {', '.join(VARIANTS)}")


def pipeline_for(variant: str) -> tuple[str, ...]:
    # Without the example's onboarding gate: every login is a signup, and a benchmark user
    # does not stop to type a phone number.
    steps = [step for step in EXAMPLE_PIPELINE if step not in (POSTLOGIN_STEP, GATE_STEP)]
    if variant == "inline":
        steps.append(INLINE_STEP)
    elif variant != "bare":
        steps.append(POSTLOGIN_STEP)
    return tuple(steps)


SOCIAL_AUTH_PIPELINE = pipeline_for(BENCH_VARIANT)

# The library's default work, so that offload and inline do the same: the welcome email on a
# user's first login, the avatar on every login (the example also records each login).
POSTLOGIN = {
    **POSTLOGIN,
    "SIGNUP_JOBS": ["welcome_email"],
    "LOGIN_JOBS": ["avatar"],
    "TASK_QUEUE": os.environ.get("BENCH_TASK_QUEUE", "postlogin-bench"),
    # The benchmarks' avatar host is a loopback server on plain http (DEBUG is off here).
    "FETCH_ALLOW_HTTP": True,
    "FETCH_ALLOWED_NETWORKS": ["127.0.0.0/8"],
}
SILENCED_SYSTEM_CHECKS = ["postlogin.W008"]

# Response headers that tell the driver which process served a request, how long Django
# spent on it, and whether it tried to publish (bench/instrument.py).
MIDDLEWARE = ["bench.instrument.BenchHeadersMiddleware", *MIDDLEWARE]
