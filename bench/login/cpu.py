"""CPU metering: the CPU seconds each group of processes spent on a variant's logins.

Groups: ``web`` (a variant's gunicorn workers), ``database`` (their PostgreSQL backends, found
by client port), ``provider`` (the fake provider and avatar host) and ``client`` (this process).
A snapshot is taken before and after each chunk of logins; :func:`cpu_summary` divides the
difference by the logins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Snapshot = dict[str, dict[int, float]]


class CpuMeter:
    """CPU seconds of the processes one variant's logins run in (needs psutil, and Django set up
    for the database group)."""

    def __init__(self, gunicorn_pid: int, provider_pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.gunicorn = psutil.Process(gunicorn_pid)
        self.provider_pid = provider_pid

    def _cpu(self, pid: int) -> float | None:
        try:
            times = self.psutil.Process(pid).cpu_times()
        except (self.psutil.Error, OSError):
            return None
        return float(times.user + times.system)

    def _client_ports(self, workers: list[int]) -> set[int]:
        ports = set()
        for pid in workers:
            try:
                for conn in self.psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.raddr and conn.laddr:
                        ports.add(conn.laddr.port)
            except (self.psutil.Error, OSError):
                continue
        return ports

    def _backends(self, workers: list[int]) -> list[int]:
        from django.db import connection

        if connection.vendor != "postgresql":
            return []
        ports = self._client_ports(workers)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database()"
            )
            return [pid for pid, port in cursor.fetchall() if port in ports]

    def snapshot(self) -> Snapshot:
        """``{group: {pid: CPU seconds so far}}`` of every process in each group now."""
        workers = [child.pid for child in self.gunicorn.children()]
        groups = {
            "web": workers,
            "database": self._backends(workers),
            "provider": [self.provider_pid],
            "client": [self.psutil.Process().pid],
        }
        return {
            group: {pid: cpu for pid in pids if (cpu := self._cpu(pid)) is not None}
            for group, pids in groups.items()
        }

    @staticmethod
    def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
        """CPU seconds per group between two snapshots (processes born in between count whole)."""
        return {
            group: sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in after.items()
        }


def cpu_summary(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per variant: logins per second while its chunks ran, and CPU ms per login by process."""
    logins = sum(c["logins"] for c in chunks)
    seconds = sum(c["seconds"] for c in chunks)
    if not logins or not seconds:
        return {}
    groups = sorted({g for c in chunks for g in c["cpu_s"]})
    per_login = {
        g: round(sum(c["cpu_s"].get(g, 0.0) for c in chunks) / logins * 1000, 2) for g in groups
    }
    per_login["total"] = round(sum(per_login.values()), 2)
    return {"logins_per_second": round(logins / seconds, 2), "cpu_ms_per_login": per_login}
