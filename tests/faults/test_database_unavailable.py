"""Fault: the database is unavailable during a login (a failover, a restart): the login answers
503 with ``Retry-After`` through ``handler500 = "postlogin.views.server_error"``, not a 500.
Any other error keeps Django's 500 page. (The slow row, test_postgresql_failover.py, stops a
real server; this one fails the session's save, where a login meets the database first.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from ..social_flow import begin_login

pytestmark = [pytest.mark.django_db, pytest.mark.social]


@pytest.fixture(autouse=True)
def _handler500(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.faults.urls"


def session_save_raises(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def save(self: SessionStore, must_create: bool = False) -> None:
        raise error

    monkeypatch.setattr(SessionStore, "save", save)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError('connection to server at "127.0.0.1", port 5432 failed'),
        InterfaceError("connection already closed"),
    ],
)
def test_database_unavailable_during_a_login_answers_503(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    session_save_raises(monkeypatch, error)
    response = begin_login(Client(raise_request_exception=False), "google-oauth2")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"try again in a moment" in response.content


def test_a_project_503_template_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    (tmp_path / "503.html").write_text("Back in a minute.")
    session_save_raises(monkeypatch, OperationalError("the database system is shutting down"))
    from django.test import override_settings

    templates = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [tmp_path]}]
    with override_settings(TEMPLATES=templates):
        response = begin_login(Client(raise_request_exception=False), "google-oauth2")
    assert (response.status_code, response.content) == (503, b"Back in a minute.")


def test_other_errors_keep_the_500_page(monkeypatch: pytest.MonkeyPatch) -> None:
    session_save_raises(monkeypatch, ValueError("a bug"))
    response = begin_login(Client(raise_request_exception=False), "google-oauth2")
    assert response.status_code == 500
    assert not response.has_header("Retry-After")
