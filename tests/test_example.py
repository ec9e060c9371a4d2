"""The example project is checked the way a user would run it: through manage.py."""

from __future__ import annotations

import json
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


PROFILE_STATUS_SCRIPT = """
import json
from django.core.management import call_command
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from accounts.models import LoginRecord
from postlogin.models import Job

call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("ada")
job = Job.objects.create(user=user, kind="login_history", key="l1", state="running")
Job.objects.create(user=user, kind="welcome_email", key="once", state="done")
client = Client(SERVER_NAME="127.0.0.1")
client.force_login(user)
page = client.get("/profile/").content.decode()
finished = []

def finish_between_reads(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    tables = ('"postlogin_job"', '"postlogin_profile"', '"accounts_loginrecord"')
    if not finished and sql.startswith("SELECT") and any(t in sql for t in tables):
        finished.append(sql)  # what the worker commits: the record, then the job's state
        LoginRecord.objects.create(
            user=user, login_id="l1", provider="oidc", logged_in_at=timezone.now()
        )
        Job.objects.filter(pk=job.pk).update(state="done")
    return result

with connection.execute_wrapper(finish_between_reads):
    status = client.get("/profile/status/").json()
print(json.dumps({"page": page, "status": status, "finished": len(finished)}))
"""


def test_the_profile_page_polls_what_the_jobs_produced(tmp_path: Path) -> None:
    """The login_history job finishes between the status endpoint's reads: done implies the
    login is listed. The page shows, and its script updates, logins and the welcome state."""
    result = manage("shell", "-c", PROFILE_STATUS_SCRIPT, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    page, status = out["page"], out["status"]
    assert out["finished"] == 1
    assert 'data-url="/profile/status/"' in page
    assert '<span id="logins">none recorded yet</span>' in page
    assert '<strong id="welcomed">not sent (no verified email address)</strong>' in page
    [history] = [job for job in status["jobs"] if job["kind"] == "login_history"]
    if history["state"] == "done":
        assert status["recent_logins"].startswith("oidc 0")
    assert status["welcome"] == "not sent (no verified email address)"
    assert status["profile"] == {"avatar_url": None, "welcomed_at": None}
