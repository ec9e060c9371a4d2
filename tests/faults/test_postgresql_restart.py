"""Fault: PostgreSQL restarts while jobs run (six avatar downloads held by a slow picture host).

The jobs whose bookkeeping failed are taken back by their own task once the database answers:
all of them complete within seconds of the restart, not after their lease (``JOB_LEASE``,
300 s here as by default); each avatar is stored once, each welcome email sent once, and logins
after the restart succeed.
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

USERS = 6


def test_postgresql_restart_under_running_jobs(
    postgresql_server: PrivatePostgres,
    scenario_broker: str,
    tmp_path: Path,
    report_recovery: Any,
) -> None:
    database = postgresql_server
    restarted = threading.Event()
    # The first six downloads are in flight when the database restarts.
    with jobs_in_flight(tmp_path, database, scenario_broker, USERS, restarted) as stack:
        database.restart()
        started = time.monotonic()
        restarted.set()
        # Logins right after the restart: the web process's kept connection is replaced.
        for _ in range(2):
            stack.sign_up()
        stack.wait_until_all_done(database, (USERS + 2) * 2)
        report_recovery("postgresql restart", started)
        interrupted = database.query(
            "SELECT count(*) FROM postlogin_job WHERE kind = 'avatar' AND attempts = 2"
        )
        recipients = stack.recipients()

    assert interrupted == [(USERS,)], "each interrupted download was tried once more"
    assert recipients == sorted(f"user{n}@example.com" for n in range(1, USERS + 3))
    assert database.query("SELECT count(*) FROM postlogin_profile WHERE avatar <> ''") == [
        (USERS + 2,)
    ]
