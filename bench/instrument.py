"""Bench-only instrumentation: response headers that tell the driver what a request did.

- ``X-Bench-Pid``: the gunicorn worker process that served it (the circuit breaker is per
  process, so the driver can tell each process's first broker timeout from the later logins);
- ``X-Bench-Server-Ms`` and ``X-Bench-Cpu-Ms``: wall and CPU time of the thread in Django;
- ``X-Bench-Publish``: ``"<attempts> <failures> <ms>"`` of ``postlogin.publish.send_run_jobs``
  calls made in this request's thread (one per login that published; 0 on a login with jobs
  means the breaker was open, or its probe went to a background thread).

It wraps ``send_run_jobs`` once per process; the wrapper costs a microsecond.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

_local = threading.local()


def _count_publishing() -> None:
    from postlogin import publish

    original: Callable[[list[int]], None] = publish.send_run_jobs
    if getattr(original, "bench_wrapped", False):
        return

    def send_run_jobs(job_ids: list[int]) -> None:
        started = time.perf_counter()
        try:
            original(job_ids)
        except BaseException:
            _local.failures = getattr(_local, "failures", 0) + 1
            raise
        finally:
            _local.attempts = getattr(_local, "attempts", 0) + 1
            _local.seconds = getattr(_local, "seconds", 0.0) + time.perf_counter() - started

    send_run_jobs.bench_wrapped = True  # type: ignore[attr-defined]
    publish.send_run_jobs = send_run_jobs


class BenchHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        _count_publishing()

    def __call__(self, request: HttpRequest) -> Any:
        _local.attempts, _local.failures, _local.seconds = 0, 0, 0.0
        wall, cpu = time.perf_counter(), time.thread_time()
        response = self.get_response(request)
        response["X-Bench-Server-Ms"] = f"{(time.perf_counter() - wall) * 1000:.2f}"
        response["X-Bench-Cpu-Ms"] = f"{(time.thread_time() - cpu) * 1000:.2f}"
        # Per request: with gunicorn --preload this object is made before the fork.
        response["X-Bench-Pid"] = str(os.getpid())
        response["X-Bench-Publish"] = (
            f"{_local.attempts} {_local.failures} {_local.seconds * 1000:.2f}"
        )
        return response
