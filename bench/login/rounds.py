"""Warm-up and the measured rounds of the login latency benchmark.

Variants run in interleaved rounds (the order rotates each round), so noise from the machine
hits them alike; each round's logins of one variant are a "chunk", metered for CPU.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..stats import summarize
from .client import BACKEND, LoginClient, Sample, run_logins
from .cpu import CpuMeter
from .variants import BROKER_OUTAGES, SHORT, user_names


def create_returning_users(names: Sequence[str]) -> None:
    """Users who logged in before (social account present): their logins schedule no work."""
    from django.contrib.auth import get_user_model
    from social_django.models import UserSocialAuth

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=name, email=f"{name}@bench.example") for name in names]
    )
    if any(user.pk is None for user in users):  # SQLite before 3.35 returns no IDs
        users = list(user_model.objects.filter(username__in=names))
    UserSocialAuth.objects.bulk_create(
        [
            UserSocialAuth(user=user, provider=BACKEND, uid=user.username, id_key="sub")
            for user in users
        ]
    )


def warm_up(
    client: LoginClient, variant: str, workers: int, run_id: str, t0: float
) -> dict[str, Any]:
    """Returning users log in until every worker process has served some of them.

    They follow the variant's steady-state path (offload publishes one avatar job, inline
    downloads one picture), except in the outage variants, whose warm-up users have no
    picture and so schedule no job: there the dead broker is first met in measured logins.
    """
    picture = variant not in BROKER_OUTAGES
    seen: set[int] = set()
    logins = failed = 0
    errors: set[str] = set()
    for attempt in range(8):
        users = user_names(f"w{SHORT[variant]}", attempt, workers * 2, run_id)
        create_returning_users(users)
        samples = run_logins(
            client,
            variant,
            -1,
            users,
            concurrency=workers,
            t0=t0,
            deadline=time.monotonic() + 120,
            picture=picture,
        )
        logins += len(samples)
        failed += sum(1 for s in samples if not s.ok)
        errors.update(s.error for s in samples if s.error)
        seen.update(s.pid for s in samples if s.pid is not None)
        if len(seen) >= workers and attempt >= 1:
            break
    result: dict[str, Any] = {"logins": logins, "failed": failed, "processes": len(seen)}
    if errors:
        result["errors"] = sorted(errors)[:5]
    return result


def logins_per_round(logins: int, rounds: int) -> list[int]:
    """``logins`` split over ``rounds`` as evenly as whole numbers allow (earlier rounds +1)."""
    return [logins // rounds + (1 if r < logins % rounds else 0) for r in range(rounds)]


def rotated(variants: Sequence[str], round_: int) -> list[str]:
    """The variants in round ``round_``'s order: each round starts one further along."""
    shift = round_ % len(variants)
    return [*variants[shift:], *variants[:shift]]


@dataclass
class Rounds:
    """The measured logins of every round, and each chunk's CPU and duration."""

    clients: dict[str, LoginClient]
    meters: dict[str, CpuMeter]
    concurrency: int
    run_id: str
    t0: float
    samples: list[Sample] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)

    def run(self, variants: Sequence[str], rounds: int, logins: int, max_seconds: float) -> float:
        """Every round, each variant's chunk in turn, until done or ``max_seconds`` are up;
        returns the seconds spent measuring."""
        deadline = time.monotonic() + max_seconds
        started = time.monotonic()
        for round_, count in enumerate(logins_per_round(logins, rounds)):
            for variant in rotated(variants, round_):
                chunk = self.chunk(variant, round_, count, deadline)
                print(
                    f"login_latency: round {round_ + 1}/{rounds} {variant:<20} "
                    f"{len(chunk)} logins, /complete/ p50 "
                    f"{summarize(s.complete_ms for s in chunk if s.ok)['p50']} ms, "
                    f"failed {sum(1 for s in chunk if not s.ok)}",
                    file=sys.stderr,
                )
        return round(time.monotonic() - started, 1)

    def chunk(self, variant: str, round_: int, count: int, deadline: float) -> list[Sample]:
        """``count`` new users of ``variant`` log in; their samples, with the chunk metered."""
        meter = self.meters[variant]
        before, started = meter.snapshot(), time.monotonic()
        samples = run_logins(
            self.clients[variant],
            variant,
            round_,
            user_names(SHORT[variant], round_, count, self.run_id),
            concurrency=self.concurrency,
            t0=self.t0,
            deadline=deadline,
        )
        self.chunks.append(
            {
                "variant": variant,
                "logins": len(samples),
                "seconds": time.monotonic() - started,
                "cpu_s": CpuMeter.used(before, meter.snapshot()),
            }
        )
        self.samples.extend(samples)
        return samples


def job_states(prefix: str) -> dict[str, int]:
    """What the logins of users named ``prefix``... left: jobs by state, avatars stored."""
    from django.db.models import Count

    from postlogin.models import Job, Profile

    rows = (
        Job.objects.filter(user__username__startswith=prefix)
        .values("state")
        .annotate(n=Count("id"))
    )
    states = {row["state"]: row["n"] for row in rows}
    states["avatars_stored_in_request"] = (
        Profile.objects.filter(user__username__startswith=prefix).exclude(avatar="").count()
    )
    return states
