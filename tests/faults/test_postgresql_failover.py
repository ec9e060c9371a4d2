"""Fault: PostgreSQL unavailable for a while (a failover; 30 s in production, 8 s here), with
avatar downloads in flight and logins going on.

While the database is down a login answers 503 with ``Retry-After`` (``handler500 =
"postlogin.views.server_error"``), not 500. Once it is back, logins succeed and every job
completes, with the same worker process (running beat, so the relay too): nothing restarted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .servers import PrivatePostgres
from .stack import jobs_in_flight

pytestmark = [pytest.mark.integration, pytest.mark.faults_slow]

USERS = 4
OUTAGE = 8.0  # seconds; scaled down from a 30 s failover


def test_postgresql_down_for_a_while(
    postgresql_server: PrivatePostgres,
    scenario_broker: str,
    tmp_path: Path,
    report_recovery: Any,
) -> None:
    database = postgresql_server
    stopped = threading.Event()
    with jobs_in_flight(tmp_path, database, scenario_broker, USERS, stopped) as stack:
        database.stop()
        down = time.monotonic()
        stopped.set()  # the downloads finish while their bookkeeping cannot be written
        during = stack.web.login()
        assert (during["status"], during["retry_after"]) == (503, "10"), during
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))  # the outage's length is the fault
        database.start()
        started = time.monotonic()
        for _ in range(2):
            stack.sign_up()
        stack.wait_until_all_done(database, (USERS + 2) * 2)
        report_recovery("postgresql down", started)
        assert stack.worker.poll() is None, "the worker kept running through the outage"
        recipients = stack.recipients()
        log = stack.log.read_text()

    # The login refused during the outage created nothing: users 1-4 and the two after it.
    assert len(recipients) == USERS + 2 == len(set(recipients))
    assert database.query("SELECT count(*) FROM postlogin_profile WHERE avatar <> ''") == [
        (USERS + 2,)
    ]
    assert "the database failed" in log
    assert "relay skipped: the database failed" in log
    assert "Service Unavailable: /login/google-oauth2/" in log
