"""Fault: a worker's clock jumps 10 minutes ahead, or 10 minutes behind (NTP stepping a host's
clock, a VM resumed from a snapshot), while a job runs under a live lease on a worker whose
clock is right.

Every time the ledger compares (leases, due times) is the database's, so the skewed workers
steal no lease and extend none: a duplicate delivery of the running job reaching them is
dropped, the relay they run (beat) re-publishes no live lease, and once the lease has run out
one of them takes the job over, with a lease counted from the database's clock. The avatar is
stored once; the first worker's late outcome is refused by the claims fence.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models.functions import Now

from postlogin import markers, publish
from postlogin.models import Job, Profile, RelayMarker

from ..helpers import celery_app, http_server, png, require_postgresql, wait_until, worker_process
from ..settings import TEST_POSTLOGIN
from .clock import skewed_clock
from .servers import PrivateRedis
from .stack import avatar_jobs

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults_slow,
    pytest.mark.django_db(transaction=True),
]

#: ``JOB_LEASE`` stays at its default (300 s): shorter than the skew, as in production.
LEDGER = {**TEST_POSTLOGIN, "RELAY_PENDING_AFTER": 0, "RETRY_BACKOFF": 0, "RETRY_BACKOFF_MAX": 1}
SKEWS = {"ahead": "+10m", "behind": "-10m"}
HELD_PICTURE = "/u1.png"


def test_a_worker_clock_ten_minutes_off_steals_no_lease_and_extends_none(
    redis_server: PrivateRedis, tmp_path: Path, settings: Any, report_recovery: Any
) -> None:
    require_postgresql()
    clocks = {name: skewed_clock(offset) for name, offset in SKEWS.items()}
    settings.POSTLOGIN = LEDGER
    settings.MEDIA_ROOT = str(tmp_path / "media")
    env = {
        "POSTLOGIN_TEST_SETTINGS": json.dumps(LEDGER),
        "POSTLOGIN_TEST_MEDIA_ROOT": settings.MEDIA_ROOT,
    }
    release = threading.Event()

    def pictures(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if path == HELD_PICTURE:  # every download of the running job's picture hangs
            release.wait(timeout=90)
        return 200, {"Content-Type": "image/png"}, png(int(path.strip("/u.png")))

    log = tmp_path / "workers.log"
    with (
        http_server(pictures) as host,
        celery_app(redis_server.url) as app,
        log.open("wb") as output,
        ExitStack() as workers,
    ):
        # A worker whose clock is right runs the job; its download hangs.
        workers.enter_context(worker_process(redis_server.url, env, concurrency=1, output=output))
        [running] = avatar_jobs(host, range(1, 2))
        assert publish.publish([running]) == [running]
        wait_until(lambda: Job.objects.filter(pk=running, state="running").exists(), timeout=30)
        claimed = Job.objects.get(pk=running)

        # Two workers whose clocks are off, each running the relay every second (beat), each
        # also on a queue of its own.
        for name, clock in clocks.items():
            workers.enter_context(
                worker_process(
                    redis_server.url,
                    {**env, **clock, "POSTLOGIN_TEST_RELAY_EVERY": "1"},
                    concurrency=1,
                    beat_schedule_file=str(tmp_path / f"beat-{name}"),
                    queues=f"celery,{name}",
                    output=output,
                )
            )

        # A duplicate delivery of the running job reaches each of them, then a relay marker:
        # one thread each, so the marker seen means the duplicate was handled before it.
        sent = []
        for name in clocks:
            app.send_task(publish.RUN_JOB_TASK, args=(running,), queue=name)
            sent.append(RelayMarker.objects.create(published_at=Now()).pk)
            app.send_task(markers.MARKER_TASK, args=(sent[-1],), queue=name)
        # Seen, or seen and then pruned by a relay run (which deletes only seen markers).
        unseen = RelayMarker.objects.filter(pk__in=sent, seen_at__isnull=True)
        wait_until(lambda: not unseen.exists(), timeout=60)

        # The relay runs on the skewed workers only: a job recorded without its message is
        # published by it and done, while the running job keeps its claim and its lease.
        [recorded] = avatar_jobs(host, range(2, 3))
        wait_until(lambda: Job.objects.filter(pk=recorded, state="done").exists(), timeout=60)
        now_held = Job.objects.get(pk=running)
        assert (now_held.state, now_held.claims, now_held.attempts) == ("running", 1, 1)
        assert now_held.lease_until == claimed.lease_until, "a lease was extended"

        # The lease runs out (by the database's clock, as after JOB_LEASE): a skewed worker's
        # relay re-publishes the job and a skewed worker takes it over (the first is busy).
        Job.objects.filter(pk=running).update(lease_until=Now() - timedelta(seconds=1))
        expired = time.monotonic()
        wait_until(lambda: Job.objects.filter(pk=running, claims=2).exists(), timeout=60)
        taken = Job.objects.get(pk=running)
        assert taken.state == "running"
        assert taken.lease_until is not None
        assert taken.updated_at is not None
        assert taken.lease_until - taken.updated_at == timedelta(seconds=300), "a skewed lease"

        release.set()
        try:
            wait_until(lambda: Job.objects.filter(state="done").count() == 2, timeout=60)
            # The first worker's late outcome is refused by the claims fence, and logged.
            wait_until(lambda: b"taken over" in log.read_bytes(), timeout=60)
        except AssertionError:
            states = list(Job.objects.values_list("pk", "state", "claims", "last_error"))
            raise AssertionError(f"{states}\n{log.read_text()[-4000:]}") from None
        report_recovery("worker clock 10 minutes off, lease expired", expired)

    done = Job.objects.get(pk=running)
    assert (done.state, done.claims, done.attempts) == ("done", 2, 2)
    assert Profile.objects.exclude(avatar="").count() == 2
    assert len(list((tmp_path / "media" / "avatars").iterdir())) == 2, "each avatar stored once"
    assert host.hits.count(HELD_PICTURE) == 2, "downloaded by the first claim and the takeover"
