"""The processes a login latency run starts: the fake provider with its avatar host, and one
gunicorn server of the example project per variant. Each is a child in its own process group,
bound to 127.0.0.1, and stopped by :class:`bench.common.Children`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.sockets import unused_port

from .. import common
from ..fake_idp import CLIENT_ID, CLIENT_SECRET


def gunicorn_command(port: int, workers: int) -> list[str]:
    """The example project under gunicorn: sync workers, preloaded, as a deployment runs it."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "proj.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--preload",
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]


def start_provider(
    children: common.Children, env: dict[str, str], workdir: Path, avatar_delay: float
) -> tuple[subprocess.Popen[bytes], str]:
    """The fake provider in a process of its own, answering; returns it and its issuer URL."""
    port = unused_port()
    process = children.start(
        "idp",
        [
            *(sys.executable, "-m", "bench.fake_idp"),
            *("--port", str(port), "--avatar-delay", str(avatar_delay)),
        ],
        env=env,
        cwd=common.ROOT,
        log=workdir / "idp.log",
    )
    issuer = f"http://127.0.0.1:{port}"
    common.wait_for_http(f"{issuer}/.well-known/openid-configuration", timeout=30, process=process)
    return process, issuer


def oidc_environment(issuer: str) -> dict[str, str]:
    """The example project's settings for social-auth's ``oidc`` backend at ``issuer``."""
    return {
        "OIDC_ENDPOINT": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }


def start_servers(
    children: common.Children,
    variants: Sequence[str],
    environments: dict[str, dict[str, str]],
    workdir: Path,
    workers: int,
) -> dict[str, int]:
    """One gunicorn per variant, all started before any is waited for; their ports once every
    one answers."""
    ports = {variant: unused_port() for variant in variants}
    for variant in variants:
        children.start(
            variant,
            gunicorn_command(ports[variant], workers),
            env=environments[variant],
            cwd=common.EXAMPLE,
            log=workdir / f"gunicorn-{variant}.log",
        )
    for variant in variants:
        common.wait_for_http(
            f"http://127.0.0.1:{ports[variant]}/",
            timeout=120,
            process=children.processes[variant],
        )
    return ports
