"""Signals sent by the job ledger, from the worker that ran the job."""

from django.dispatch import Signal

#: Sent after a job reached ``done``. Provides args: job
job_succeeded = Signal()

#: Sent after a job reached ``failed`` (no retries left, or a permanent error).
#: Provides args: job, error
job_failed = Signal()
