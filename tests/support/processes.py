"""Stopping child processes that a test or a benchmark started, by their PIDs.

Every child is started with ``start_new_session=True``, so its PID is also its process group's
ID: a SIGKILL to that group reaches whatever the child started in turn, and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress
from typing import Any


def stop_process(process: subprocess.Popen[Any], *, timeout: float) -> None:
    """SIGTERM the process itself, then SIGKILL its process group if it has not exited within
    ``timeout`` seconds. For a child that stops its own children on SIGTERM."""
    _stop(process, timeout=timeout, whole_group=False)


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM the child's whole process group (by the child's PID), then SIGKILL the group if
    the child has not exited within ``timeout`` seconds."""
    _stop(process, timeout=timeout, whole_group=True)


def _stop(process: subprocess.Popen[Any], *, timeout: float, whole_group: bool) -> None:
    """Returns once the child has exited and been reaped; a child that already exited is only
    reaped (nothing is signalled, so a reused PID is never hit)."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            if whole_group:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
