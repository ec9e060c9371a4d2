"""The Celery app of worker subprocesses started by the tests (see helpers.worker_process)."""

import os
import signal

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

if os.environ.get("FAKETIME"):  # a worker whose clock is off (tests/faults/clock.py)
    import select
    import time
    from typing import SupportsIndex

    def sleep_on_select(seconds: float | SupportsIndex) -> None:
        """libfaketime answers EINVAL to time.sleep's clock_nanosleep on the monotonic clock
        (left real), which kills beat: a relative timeout sleeps the same without it."""
        select.select([], [], [], float(seconds))

    time.sleep = sleep_on_select

app = Celery("postlogin-test-worker")
app.conf.update(
    broker_url=os.environ["POSTLOGIN_TEST_BROKER_URL"],
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_heartbeat=0,
)
if os.environ.get("POSTLOGIN_TEST_RELAY_EVERY"):  # for a worker started with --beat
    from postlogin.schedules import beat_schedule

    app.conf.beat_schedule = beat_schedule(
        relay_every=float(os.environ["POSTLOGIN_TEST_RELAY_EVERY"]), resync_every=None
    )
app.autodiscover_tasks(lambda: ["postlogin"])


def register_test_kinds(**kwargs: object) -> None:
    """``kill_worker``: a job that kills the process running it, every time (as a job that
    runs it out of memory would); each run first appends ``<job id> <attempt>`` to the file
    named by ``POSTLOGIN_TEST_RUNS_FILE``."""
    from postlogin import jobs
    from postlogin.models import Job

    def kill_worker(job: Job) -> None:
        with open(os.environ["POSTLOGIN_TEST_RUNS_FILE"], "a") as runs:
            runs.write(f"{job.pk} {job.attempts}\n")
        os.kill(os.getpid(), signal.SIGKILL)

    if jobs.get_kind("kill_worker") is None:
        jobs.register("kill_worker", plan=jobs.once)(kill_worker)


worker_init.connect(register_test_kinds)
