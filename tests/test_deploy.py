"""The deployment files in deploy/: well-formed, consistent with each other and with the ledger."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from postlogin.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("postlogin-web", "postlogin-worker", "postlogin-beat")
JOB_LEASE = DEFAULTS["JOB_LEASE"]


def read_ini(path: Path) -> configparser.ConfigParser:
    # No interpolation: "%" and "$" belong to systemd and supervisor. Keys keep their case.
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(), source=str(path))
    return parser


def unit(name: str) -> configparser.SectionProxy:
    return read_ini(DEPLOY / "systemd" / f"{name}.service")["Service"]


def supervisor(name: str) -> configparser.SectionProxy:
    return read_ini(DEPLOY / "supervisor" / "postlogin.conf")[f"program:{name}"]


def unit_command(name: str) -> list[str]:
    """ExecStart as arguments, from ``celery``/``gunicorn`` on, with the app as ``$APP``."""
    line = unit(name)["ExecStart"].replace("\\\n", " ")
    line = re.sub(r"\$\{(\w+)\}", r"$\1", line)
    return [Path(words[0]).name, *words[1:]] if (words := shlex.split(line)) else []


def supervisor_command(name: str) -> list[str]:
    """The command supervisor execs after sourcing the environment file, like unit_command."""
    words = shlex.split(supervisor(name)["command"])
    assert words[:2] == ["/bin/sh", "-c"], "each program sources the environment file"
    script = words[2]
    assert script.startswith("set -a && . /etc/postlogin/postlogin.env && exec ")
    inner = shlex.split(script.split("&& exec ", 1)[1])
    return [Path(inner[0]).name, *inner[1:]]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_supervisor_runs_exactly_what_systemd_runs() -> None:
    for name in UNITS:
        assert supervisor_command(name) == unit_command(name), name
        assert supervisor(name)["stopwaitsecs"] == unit(name)["TimeoutStopSec"], name
        # systemd's KillMode=mixed: SIGTERM to the main process, SIGKILL to the group at the end.
        assert unit(name)["KillMode"] == "mixed"
        assert (supervisor(name)["stopasgroup"], supervisor(name)["killasgroup"]) == (
            "false",
            "true",
        )
    group = read_ini(DEPLOY / "supervisor" / "postlogin.conf")["group:postlogin"]
    assert group["programs"].split(",") == list(UNITS)


def test_the_worker_stops_jobs_before_their_lease_ends_and_waits_for_them() -> None:
    worker = unit_command("postlogin-worker")
    assert worker[:4] == ["celery", "--app", "$CELERY_APP", "worker"]
    # prefork: the pool that enforces time limits and recycles children.
    assert option(worker, "--pool") == "prefork"
    assert int(option(worker, "--max-tasks-per-child")) > 0
    soft, hard = int(option(worker, "--soft-time-limit")), int(option(worker, "--time-limit"))
    assert soft < hard < JOB_LEASE, "a job must stop before the relay may hand it out again"
    assert int(unit("postlogin-worker")["TimeoutStopSec"]) > JOB_LEASE


def test_the_web_server_stops_gracefully_within_its_stop_timeout() -> None:
    web = unit_command("postlogin-web")
    assert web[:2] == ["gunicorn", "$WSGI_APP"]
    assert int(option(web, "--graceful-timeout")) < int(unit("postlogin-web")["TimeoutStopSec"])


def test_every_variable_the_units_use_is_in_the_environment_example() -> None:
    example = (DEPLOY / "postlogin.env.example").read_text()
    defined = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    for name in UNITS:
        assert unit(name)["EnvironmentFile"] == "/etc/postlogin/postlogin.env"
        used = set(re.findall(r"\$\{(\w+)\}", unit(name)["ExecStart"]))
        assert used <= defined, name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # systemd-analyze also checks that the commands exist: point them at stand-ins.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("celery", "gunicorn"):
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    for name in UNITS:
        text = (DEPLOY / "systemd" / f"{name}.service").read_text()
        (tmp_path / f"{name}.service").write_text(
            text.replace("/srv/postlogin/venv/bin/", f"{bin_dir}/")
        )
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / f"{name}.service") for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def environment_example() -> dict[str, str]:
    lines = (DEPLOY / "postlogin.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize(
    "broker", [None, "amqp://postlogin:secret@rabbitmq.internal:5672/postlogin"]
)
def test_the_environment_example_passes_the_checks(broker: str | None, tmp_path: Path) -> None:
    """The example project, configured by the environment file, passes every check."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")},
        **environment_example(),
        "DEMO_VAR_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    if broker:
        env["CELERY_BROKER_URL"] = broker
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT / "example",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
