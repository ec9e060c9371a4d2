from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", "postlogin", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_errors_recorded_before_codes_are_scrubbed_and_coded() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("postlogin", "0004_profile_tokens_refused_at")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("auth", "User").objects.create(username="ada")
    Job = old.get_model("postlogin", "Job")
    leaked = Job.objects.create(
        user_id=user.pk,
        kind="profile_sync",
        key="a",
        state="failed",
        last_error="ConnectionError: Max retries exceeded with url: /api/v4/user?access_token=x9",
    )
    fine = Job.objects.create(user_id=user.pk, kind="avatar", key="b", state="done")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("postlogin"))
    from postlogin.models import Job as CurrentJob

    leaked_now = CurrentJob.objects.get(pk=leaked.pk)
    assert leaked_now.last_error == (
        "ConnectionError: Max retries exceeded with url: /api/v4/user?[redacted]"
    )
    assert leaked_now.error_code == "internal_error"
    fine_now = CurrentJob.objects.get(pk=fine.pk)
    assert (fine_now.last_error, fine_now.error_code) == ("", "")
