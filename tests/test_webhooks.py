"""Standard Webhooks signing and verifying, checked against the reference implementation."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory, override_settings
from django.views.decorators.csrf import csrf_exempt

from postlogin import webhooks
from postlogin.conf import postlogin_settings
from postlogin.net import retry_after_seconds

SECRET = "whsec_" + base64.b64encode(b"postlogin-test-secret-32-bytes!!").decode()
OTHER = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
BODY = b'{"type":"user.signed_up","data":{"user_id":1}}'


def test_our_signature_verifies_with_the_reference_library() -> None:
    headers = webhooks.signed_headers(SECRET, "msg_1", BODY)
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_the_reference_librarys_signature_verifies_with_ours() -> None:
    now = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SECRET).sign("msg_2", now, BODY.decode())
    headers = {
        "Webhook-Id": "msg_2",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": signature,
    }
    assert webhooks.verify(SECRET, headers, BODY) == "msg_2"


def test_rotated_secrets_and_several_signatures() -> None:
    headers = webhooks.signed_headers(OTHER, "msg_3", BODY)
    headers["webhook-signature"] = "v1,bm90IGl0 v1a,ignored " + headers["webhook-signature"]
    assert webhooks.verify([SECRET, OTHER], headers, BODY) == "msg_3"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-id": ""}, "missing_headers"),
        ({"webhook-timestamp": "yesterday"}, "bad_timestamp"),
        ({"webhook-timestamp": -310}, "timestamp_out_of_tolerance"),
        ({"webhook-timestamp": +310}, "timestamp_out_of_tolerance"),
        ({"webhook-id": "msg_other"}, "no_matching_signature"),
        ({"webhook-signature": "v2,whatever"}, "no_matching_signature"),
    ],
)
def test_forged_or_stale_messages_are_refused(change: dict[str, Any], reason: str) -> None:
    # A number is an offset from now, in seconds (computed here, not at collection time).
    change = {
        name: str(int(time.time()) + value) if isinstance(value, int) else value
        for name, value in change.items()
    }
    headers = {**webhooks.signed_headers(SECRET, "msg_4", BODY), **change}
    with pytest.raises(webhooks.InvalidWebhook) as info:
        webhooks.verify(SECRET, headers, BODY)
    assert info.value.reason == reason
    with pytest.raises(webhooks.InvalidWebhook):
        webhooks.verify(SECRET, webhooks.signed_headers(SECRET, "msg_4", BODY), BODY + b" ")


@pytest.mark.parametrize(
    "spelling",
    [
        lambda digits: digits.translate(
            str.maketrans(
                "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
            )
        ),
        lambda digits: "+" + digits,
        lambda digits: digits[:4] + "_" + digits[4:],
        lambda digits: digits + "\u00b2",
    ],
    ids=["arabic-indic digits", "plus sign", "underscore", "superscript"],
)
def test_a_timestamp_is_ascii_digits_only(spelling: Any) -> None:
    # The signature covers the digits as sent; int() would read these as the same number.
    headers = webhooks.signed_headers(SECRET, "msg_6", BODY)
    headers["webhook-timestamp"] = spelling(headers["webhook-timestamp"])
    with pytest.raises(webhooks.InvalidWebhook) as info:
        webhooks.verify(SECRET, headers, BODY)
    assert info.value.reason == "bad_timestamp"


@pytest.mark.parametrize(
    "secret", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        webhooks.decode_secret(secret)


@csrf_exempt
@webhooks.webhook_receiver([SECRET])
def receiver(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"id": request.webhook_id, "got": request.webhook_payload})  # type: ignore[attr-defined]


def test_the_view_decorator_lets_only_genuine_messages_through(rf: RequestFactory) -> None:
    headers = webhooks.signed_headers(SECRET, "msg_5", BODY)
    good = rf.post("/hook", BODY, content_type="application/json", headers=headers)
    response = receiver(good)
    assert response.status_code == 200
    assert json.loads(response.content) == {"id": "msg_5", "got": json.loads(BODY)}
    forged = rf.post(
        "/hook", BODY, content_type="application/json", headers={**headers, "webhook-id": "x"}
    )
    assert receiver(forged).status_code == 401
    not_json = rf.post(
        "/hook",
        b"hello",
        content_type="text/plain",
        headers=webhooks.signed_headers(SECRET, "m", b"hello"),
    )
    assert receiver(not_json).status_code == 400


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("7") == 7
    soon = datetime.fromtimestamp(time.time() + 30, UTC)
    from email.utils import format_datetime

    assert 25 <= (retry_after_seconds(format_datetime(soon, usegmt=True)) or 0) <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ("https://x", "must be a list"),
        ([{"name": "a", "url": "https://x"}], "needs secret"),
        ([{"name": "a", "url": "ftp://x", "secret": SECRET}], "http(s) URL"),
        ([{"name": "a", "url": "https://x", "secret": "whsec_!!"}], "'whsec_' followed by base64"),
        ([{"name": "a", "url": "https://x", "secret": SECRET, "events": ["logout"]}], "'signup'"),
        ([{"name": "a", "url": "https://x", "secret": SECRET, "retries": 3}], "unknown key"),
        (
            [{"name": "a", "url": "https://x", "secret": SECRET}] * 2,
            "used twice",
        ),
    ],
)
def test_webhook_settings_are_validated(hooks: Any, message: str) -> None:
    with (
        override_settings(POSTLOGIN={"WEBHOOKS": hooks}),
        pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")),
    ):
        postlogin_settings.WEBHOOKS  # noqa: B018


@pytest.mark.parametrize(
    ("limits", "storage", "message"),
    [
        ({"github": "lots"}, "memory://", "a rate such as"),
        ([], "memory://", "RATE_LIMITS"),
        ({}, "redis", "storage URI"),
    ],
)
def test_rate_limit_settings_are_validated(limits: Any, storage: str, message: str) -> None:
    with (
        override_settings(POSTLOGIN={"RATE_LIMITS": limits, "RATE_LIMIT_STORAGE": storage}),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        postlogin_settings.RATE_LIMITS  # noqa: B018


@pytest.mark.django_db
def test_each_endpoint_gets_the_events_it_asked_for(user: Any, settings: Any) -> None:
    from postlogin import dispatch
    from postlogin.events import LoginEvent, ProviderProfile
    from postlogin.models import Job

    settings.POSTLOGIN = {
        "LOGIN_JOBS": [],
        "SIGNUP_JOBS": [],
        "WEBHOOKS": [
            {"name": "crm", "url": "https://crm.example/h", "secret": SECRET, "events": ["signup"]},
            {"name": "stats", "url": "https://stats.example/h", "secret": OTHER},
        ],
    }
    profile = ProviderProfile(uid="1", email="ada@example.com", email_verified=True)
    dispatch.record_jobs(
        LoginEvent(user_id=user.pk, provider="google", is_new=True, profile=profile)
    )
    dispatch.record_jobs(
        LoginEvent(user_id=user.pk, provider="google", is_new=False, profile=profile)
    )
    sent = sorted(
        (job.payload["endpoint"], job.payload["body"]["type"]) for job in Job.objects.all()
    )
    assert sent == [
        ("crm", "user.signed_up"),
        ("stats", "user.logged_in"),
        ("stats", "user.logged_in"),
        ("stats", "user.signed_up"),
    ]
    for job in Job.objects.all():
        assert job.payload["msg_id"].startswith("msg_")
        assert SECRET not in json.dumps(job.payload), "secrets stay in settings"
