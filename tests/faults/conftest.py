"""Fixtures of the fault tests: private servers, and the broker the scenarios' workers use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .servers import (
    PrivatePostgres,
    PrivateRabbitMQ,
    PrivateRedis,
    private_postgresql,
    private_rabbitmq,
    private_redis,
)


@pytest.fixture
def postgresql_server() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own, which it may stop and restart."""
    with private_postgresql() as server:
        yield server


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, which it may restart."""
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def rabbitmq_server() -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of the test's own, which it may stop and start again."""
    with private_rabbitmq() as server:
        yield server


@pytest.fixture
def scenario_broker(redis_server: PrivateRedis) -> str:
    """The broker of a scenario's processes: a private Redis, so that no other test's worker
    takes its messages."""
    return redis_server.url


@pytest.fixture
def report_recovery(record_property: Any) -> Callable[[str, float], float]:
    """Record (in the JUnit report, and printed with -s) the seconds from the end of a fault,
    at ``started`` (``time.monotonic()``), until every job was done."""

    def report(fault: str, started: float) -> float:
        seconds = round(time.monotonic() - started, 1)
        record_property("recovery_seconds", seconds)
        print(f"{fault}: every job done {seconds} s after the fault ended")
        return seconds

    return report
