"""Signals sent by the job ledger, from the worker that ran the job."""

from django.dispatch import Signal

#: Sent after a job reached ``done``. Provides args: job
job_succeeded = Signal()

#: Sent after a job reached ``failed`` (no retries left, or a permanent error).
#: Provides args: job, error (the exception: its message may hold a token or an internal host,
#: so log ``error_text`` instead), error_code (``job.error_code``), error_text (scrubbed, as in
#: ``job.last_error``)
job_failed = Signal()
