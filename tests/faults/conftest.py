"""Fixtures of the fault tests: private servers, and the broker the scenarios' workers use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import PrivatePostgres, PrivateRedis, private_postgresql, private_redis


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
def scenario_broker(redis_server: PrivateRedis) -> str:
    """The broker of a scenario's processes: a private Redis, so that no other test's worker
    takes its messages."""
    return redis_server.url
