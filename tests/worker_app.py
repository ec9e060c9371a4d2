"""The Celery app of worker subprocesses started by the tests (see helpers.worker_process)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

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
