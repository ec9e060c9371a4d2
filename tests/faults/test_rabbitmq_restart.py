"""Fault: RabbitMQ restarts with workers connected, while avatar downloads run (held by a slow
picture host) and more jobs wait in the queue; logins during the outage record their jobs.

A private RabbitMQ node (``servers.PrivateRabbitMQ``), the ledger on its defaults and the relay
on the documented schedule. The queue is durable and the messages persistent: the queued ones
survive the restart, and the two being worked on, unacknowledged when the worker's connection
dropped, come back once; their jobs are still ``running`` under their lease, so the claim drops
the copy. The worker reconnects by itself; the relay publishes the jobs recorded during the
outage. Every job is done once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from postlogin import publish
from postlogin.models import Job, Profile

from ..helpers import require_postgresql, wait_until
from ..settings import TEST_POSTLOGIN
from .servers import PrivateRabbitMQ
from .stack import avatar_jobs, held_downloads

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults_slow,
    pytest.mark.django_db(transaction=True),
]

HELD = 2
#: The ledger's defaults, but downloads may take a minute: the held ones stay in flight through
#: the restart (with the default 10 s read timeout they would fail first, and be retried).
LEDGER = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": [3.05, 60.0]}


def test_rabbitmq_restart_with_workers_connected(
    rabbitmq_server: PrivateRabbitMQ, tmp_path: Path, settings: Any, report_recovery: Any
) -> None:
    require_postgresql()
    back = threading.Event()
    with held_downloads(
        rabbitmq_server.url, tmp_path, settings, LEDGER, back, held=HELD
    ) as scenario:
        host, worker = scenario.host, scenario.worker
        # Two downloads hang (their messages unacknowledged); four more wait in the queue.
        assert len(publish.publish(avatar_jobs(host, range(1, 7)))) == 6
        wait_until(lambda: Job.objects.filter(state="running").count() == HELD, timeout=30)
        rabbitmq_server.stop()
        # Logins while the broker is down: their jobs are recorded, the publish fails quietly.
        assert publish.publish(avatar_jobs(host, range(7, 9))) == []
        rabbitmq_server.start()
        started = time.monotonic()
        back.set()
        scenario.wait_until_all_done(8)
        report_recovery("rabbitmq restart", started)
        print(f"rabbitmq-server started in {rabbitmq_server.start_seconds} s")
        assert worker.poll() is None, "the worker reconnected by itself"

    assert Profile.objects.exclude(avatar="").count() == 8
    assert len(list((tmp_path / "media" / "avatars").iterdir())) == 8, "each avatar stored once"
    rows = list(Job.objects.values_list("pk", "attempts", "last_error"))
    assert all(attempts == 1 for _pk, attempts, _error in rows), (
        f"{rows}\n{scenario.log.read_text()}"
    )
