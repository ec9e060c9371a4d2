"""The example project is checked the way a user would run it: through manage.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def manage(*args: str, tmp_path: Path, auth: str = "social") -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env["DEMO_VAR_DIR"] = str(tmp_path)
    env["DEMO_AUTH"] = auth
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("auth", ["social", "allauth"])
@pytest.mark.parametrize(
    "args",
    [("check", "--fail-level", "WARNING"), ("makemigrations", "--check", "--dry-run")],
)
def test_example_project_is_consistent(args: tuple[str, ...], auth: str, tmp_path: Path) -> None:
    result = manage(*args, tmp_path=tmp_path, auth=auth)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_registers_its_own_job_kind(tmp_path: Path) -> None:
    result = manage(
        "shell",
        "-c",
        "from postlogin import jobs; print(jobs.registered_kinds())",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "['avatar', 'login_history', 'profile_sync', 'webhook', 'welcome_email']"
    )


def test_the_profile_page_shows_a_failure_by_its_safe_message(tmp_path: Path) -> None:
    migrated = manage("migrate", "--noinput", tmp_path=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    script = """
from django.contrib.auth import get_user_model
from django.test import Client
from postlogin.models import Job
user = get_user_model().objects.create_user("ada")
Job.objects.create(
    user=user, kind="avatar", key="k", state="failed", error_code="fetch_refused",
    last_error="PermanentJobError: address_not_allowed: hr-db.corp.internal (10.20.30.40)",
)
client = Client(HTTP_HOST="localhost")
client.force_login(user)
print(client.get("/profile/").content.decode())
"""
    result = manage("shell", "-c", script, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert 'data-code="fetch_refused">The address given for it cannot be used.</td>' in page
    assert "hr-db" not in page
    assert "10.20.30.40" not in page
    assert "job.error_message" in page, "the live table renders the same field"
