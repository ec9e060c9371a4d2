"""A process whose clock is off: libfaketime (Debian's ``faketime`` package) preloaded, so that
``time.time()``, ``datetime.now()`` and everything built on them (Celery, kombu, beat) run
ahead of or behind the machine's clock. The monotonic clock is left alone: timeouts still work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .servers import _unavailable

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
#: Prints what ``time.time()`` and ``datetime.now()`` say in the process, as two timestamps.
SAY_THE_TIME = "import datetime, time; print(time.time(), datetime.datetime.now().timestamp())"


def skewed_clock(offset: str) -> dict[str, str]:
    """The environment of a process whose clock is ``offset`` (libfaketime's syntax, ``+10m``,
    ``-10m``) off the machine's; checked on a Python process before it is returned."""
    if not LIBFAKETIME.exists():
        _unavailable(f"{LIBFAKETIME} is missing (apt-get install faketime)")
    env = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    before = time.time()
    said = subprocess.run(
        [sys.executable, "-c", SAY_THE_TIME],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    after = time.time()
    seconds = {"m": 60, "h": 3600}.get(offset[-1], 1) * float(offset.rstrip("mh"))
    for clock in map(float, said):
        assert before + seconds - 1 <= clock <= after + seconds + 1, (offset, said, before)
    return env
