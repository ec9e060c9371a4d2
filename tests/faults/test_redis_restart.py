"""Fault: the Redis broker restarts (without persistence, so every message it held is lost)
while avatar downloads run and more wait in the queue.

The worker reconnects by itself; the relay (beat, in the worker) re-publishes the jobs whose
messages were lost once ``RELAY_QUEUED_AFTER`` has passed; jobs recorded after the restart go
through; every avatar is stored once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from postlogin import dispatch
from postlogin.models import Job, Profile

from ..helpers import celery_app, http_server, require_postgresql, wait_until, worker_process
from ..settings import TEST_POSTLOGIN
from .servers import PrivateRedis
from .stack import held_pictures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults_slow,
    pytest.mark.django_db(transaction=True),
]

HELD = 2
LEDGER = {
    **TEST_POSTLOGIN,
    "RELAY_PENDING_AFTER": 0,
    "RELAY_QUEUED_AFTER": 3,
    "RETRY_BACKOFF": 0,
    "RETRY_BACKOFF_MAX": 1,
}


def avatar_jobs(host: Any, numbers: range) -> list[int]:
    users = get_user_model().objects
    return [
        Job.objects.create(
            user=users.create_user(f"user{n}"),
            kind="avatar",
            key="k",
            payload={"url": host.url(f"/u{n}.png")},
        ).pk
        for n in numbers
    ]


def test_redis_broker_restart_loses_messages_and_the_relay_resends_them(
    redis_server: PrivateRedis, tmp_path: Path, settings: Any, report_recovery: Any
) -> None:
    require_postgresql()
    settings.POSTLOGIN = LEDGER
    settings.MEDIA_ROOT = str(tmp_path / "media")
    env = {
        "POSTLOGIN_TEST_SETTINGS": json.dumps(LEDGER),
        "POSTLOGIN_TEST_MEDIA_ROOT": settings.MEDIA_ROOT,
        "POSTLOGIN_TEST_RELAY_EVERY": "1",
    }
    restarted = threading.Event()
    log = tmp_path / "worker.log"
    with (
        http_server(held_pictures(HELD, restarted)) as host,
        celery_app(redis_server.url),
        log.open("wb") as output,
        worker_process(
            redis_server.url,
            env,
            concurrency=HELD,
            beat_schedule_file=str(tmp_path / "celerybeat-schedule"),
            output=output,
        ) as worker,
    ):
        # Two downloads hang; four more jobs wait in Redis behind them.
        assert len(dispatch.publish(avatar_jobs(host, range(1, 7)))) == 6
        wait_until(lambda: Job.objects.filter(state="running").count() == HELD, timeout=30)
        redis_server.restart()
        started = time.monotonic()
        restarted.set()
        avatar_jobs(host, range(7, 9))  # recorded after the restart: pending, for the relay
        try:
            wait_until(lambda: Job.objects.filter(state="done").count() == 8, timeout=60)
        except AssertionError:
            states = list(Job.objects.values_list("pk", "state", "attempts", "last_error"))
            raise AssertionError(f"{states}\n{log.read_text()[-4000:]}") from None
        report_recovery("redis broker restart", started)
        assert worker.poll() is None, "the worker reconnected by itself"

    assert Profile.objects.exclude(avatar="").count() == 8
    assert len(list((tmp_path / "media" / "avatars").iterdir())) == 8, "each avatar stored once"
