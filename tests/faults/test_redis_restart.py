"""Fault: the Redis broker loses every message it held, while avatar downloads run and more wait
in the queue: it restarts without persistence, or its database is flushed (``FLUSHDB``).

The ledger runs on its defaults (``RELAY_QUEUED_AFTER`` 900 s) and the relay on the documented
schedule (every 5 s). The worker reconnects by itself; the relay's markers tell the lost
messages from a long queue, and the relay publishes the lost jobs again within two of its runs;
jobs recorded after the loss go through; every avatar is stored once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from postlogin import publish
from postlogin.models import Job, Profile

from ..helpers import require_postgresql, wait_until
from ..settings import TEST_POSTLOGIN
from .servers import PrivateRedis
from .stack import avatar_jobs, held_downloads

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults_slow,
    pytest.mark.django_db(transaction=True),
]

HELD = 2


def flush(server: PrivateRedis) -> None:
    with redis.Redis.from_url(server.url, socket_timeout=5) as client:
        client.flushdb()


@pytest.mark.parametrize("loss", ["restart", "flushdb"])
def test_redis_broker_loses_its_messages_and_the_relay_resends_them(
    loss: str, redis_server: PrivateRedis, tmp_path: Path, settings: Any, report_recovery: Any
) -> None:
    require_postgresql()
    lost = threading.Event()
    with held_downloads(
        redis_server.url, tmp_path, settings, TEST_POSTLOGIN, lost, held=HELD
    ) as scenario:
        host, worker = scenario.host, scenario.worker
        # Two downloads hang; four more jobs wait in Redis behind them.
        assert len(publish.publish(avatar_jobs(host, range(1, 7)))) == 6
        wait_until(lambda: Job.objects.filter(state="running").count() == HELD, timeout=30)
        redis_server.restart() if loss == "restart" else flush(redis_server)
        started = time.monotonic()
        lost.set()
        avatar_jobs(host, range(7, 9))  # recorded after the loss: pending, for the relay
        scenario.wait_until_all_done(8)
        report_recovery(f"redis broker {loss}", started)
        assert worker.poll() is None, "the worker reconnected by itself"

    assert Profile.objects.exclude(avatar="").count() == 8
    assert len(list((tmp_path / "media" / "avatars").iterdir())) == 8, "each avatar stored once"
    assert Job.objects.filter(attempts=1).count() == 8, "each job run once"
