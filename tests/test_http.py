"""postlogin.http, the public outbound client, against real loopback servers."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from postlogin import http
from postlogin.models import Job

from .network import RawServer, raw_server, send_response


def answer(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
    def respond(conn: socket.socket, server: RawServer) -> None:
        send_response(conn, status, headers, body)

    return respond


def test_post_sends_json_and_returns_status_headers_and_body() -> None:
    with raw_server(answer("201 Created", {"X-Id": "7"}, b'{"id": 7}')) as server:
        response = http.post(server.url("/c"), json={"a": 1}, headers={"Idempotency-Key": "k"})
    assert (response.status, response.headers["x-id"], response.json()) == (201, "7", {"id": 7})
    assert server.header(0, "Content-Type") == "application/json"
    assert server.header(0, "Idempotency-Key") == "k"
    http.raise_for_outcome(response)


def test_post_takes_json_or_body_not_both() -> None:
    with pytest.raises(TypeError):
        http.post("https://api.example.com/", json={}, body=b"")


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [({}, b"x" * 100, "too_large"), ({"Content-Encoding": "gzip"}, b"x", "unexpected_encoding")],
)
def test_a_bad_body_raises_when_read_and_the_status_still_decides(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with raw_server(answer("503 Unavailable", headers, body)) as server:
        response = http.post(server.url("/c"), body=b"{}", max_bytes=10)
    with pytest.raises(http.TransientFetchError):
        http.raise_for_outcome(response)
    with pytest.raises(http.FetchError) as error:
        response.json()
    assert (error.value.reason, error.value.permanent) == (reason, True)


def test_a_body_that_is_not_json_is_a_permanent_error() -> None:
    with raw_server(answer("200 OK", {}, b"<html>")) as server:
        response = http.post(server.url("/c"), json={})
    with pytest.raises(http.FetchError, match="not JSON") as error:
        response.json()
    assert error.value.permanent


def test_raise_for_outcome_uses_the_one_list() -> None:
    for status in range(200, 600):
        response = http.Response(
            status=status, headers={"Retry-After": "12"}, url="https://api.example.com/x"
        )
        if 200 <= status < 300:
            http.raise_for_outcome(response)
            continue
        with pytest.raises(http.FetchError) as error:
            http.raise_for_outcome(response, what="the CRM")
        assert error.value.permanent is (status not in http.RETRIED_STATUSES), status
        assert str(error.value) == f"HTTP {status} from the CRM"
        assert getattr(error.value, "retry_after", 12.0) == 12.0
    assert {408, 425, 429, 500, 502, 503, 504} == http.RETRIED_STATUSES


def test_a_redirect_is_an_answer_not_followed() -> None:
    with raw_server(answer("302 Found", {"Location": "http://127.0.0.1:1/"})) as server:
        response = http.post(server.url("/c"), json={})
    assert response.status == 302
    assert server.connections == 1
    with pytest.raises(http.FetchError, match=r"HTTP 302 from 127\.0\.0\.1"):
        http.raise_for_outcome(response)


def test_the_idempotency_key_is_the_works_not_the_rows() -> None:
    job = Job(pk=1, user_id=5, kind="crm_contact", key="once")
    same_work = Job(pk=2, user_id=5, kind="crm_contact", key="once")
    assert http.idempotency_key(job) == http.idempotency_key(same_work)
    others = [Job(user_id=6, kind="crm_contact", key="once"), Job(user_id=5, kind="x", key="once")]
    assert http.idempotency_key(job) not in {http.idempotency_key(o) for o in others}
    assert "crm" not in http.idempotency_key(job)
