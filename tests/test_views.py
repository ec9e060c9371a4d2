from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from postlogin.models import Job, Profile

pytestmark = pytest.mark.django_db


def test_anonymous_users_get_401(client: Client) -> None:
    response = client.get("/postlogin/jobs/")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}


def test_a_user_sees_only_their_own_jobs(
    client: Client, user: Any, make_job: Any, django_user_model: Any, png_bytes: Any
) -> None:
    other = django_user_model.objects.create_user("other")
    done = make_job(key="a", state="done", attempts=1)
    done.finished_at = done.created_at + timedelta(milliseconds=1500)
    done.save()
    make_job(
        kind="welcome_email",
        key="once",
        state="failed",
        last_error="SMTPServerDisconnected: smtp.corp.internal closed the connection",
        error_code="email_failed",
    )
    make_job(user=other, key="theirs")
    profile = Profile.for_user_id(user.pk)
    profile.avatar.save("a.png", ContentFile(png_bytes()))
    client.force_login(user)
    response = client.get("/postlogin/jobs/")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert [(job["kind"], job["state"]) for job in body["jobs"]] == [
        ("welcome_email", "failed"),
        ("avatar", "done"),
    ]
    assert body["jobs"][0]["error_code"] == "email_failed"
    assert body["jobs"][0]["error_message"] == "The email could not be sent."
    assert "corp.internal" not in response.content.decode(), "error text is for staff only"
    assert (body["jobs"][1]["error_code"], body["jobs"][1]["error_message"]) == (None, None)
    assert body["jobs"][1]["duration_ms"] == 1500
    assert body["profile"] == {"avatar_url": profile.avatar.url, "welcomed_at": None}


def test_an_error_recorded_without_a_code_shows_as_internal(
    client: Client, user: Any, make_job: Any
) -> None:
    make_job(state="queued", last_error="OperationalError: could not connect to db.internal")
    client.force_login(user)
    [job] = client.get("/postlogin/jobs/").json()["jobs"]
    assert (job["error_code"], job["error_message"]) == (
        "internal_error",
        "Something went wrong on our side.",
    )


def test_only_get_is_allowed(client: Client, user: Any) -> None:
    client.force_login(user)
    assert client.post("/postlogin/jobs/").status_code == 405
    assert Job.objects.count() == 0


def test_a_job_shown_done_has_its_result_in_the_profile(
    client: Client, user: Any, make_job: Any, png_bytes: Any
) -> None:
    """The avatar job finishes between the endpoint's two reads: done implies an avatar URL."""
    job = make_job(kind="avatar", key="url:a", state="running", attempts=1)
    profile = Profile.for_user_id(user.pk)
    client.force_login(user)
    finished: list[str] = []

    def finish_between_reads(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        reads_status = sql.startswith("SELECT") and (
            '"postlogin_job"' in sql or '"postlogin_profile"' in sql
        )
        if reads_status and not finished:
            finished.append(sql)  # what a worker commits: the avatar, then the job's state
            profile.avatar.save("a.png", ContentFile(png_bytes()))
            Job.objects.filter(pk=job.pk).update(state="done", finished_at=timezone.now())
        return result

    with connection.execute_wrapper(finish_between_reads):
        body = client.get("/postlogin/jobs/").json()
    assert finished, "the endpoint read no job and no profile"
    [shown] = body["jobs"]
    if shown["state"] == "done":
        assert body["profile"]["avatar_url"] == profile.avatar.url
    else:
        assert shown["state"] == "running"
