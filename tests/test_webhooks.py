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


# --- replay protection ---------------------------------------------------------------------

REPLAY_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "webhooks": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hooks"},
}


def replay_guarded(status: int = 204, calls: list[str] | None = None) -> Any:
    """A receiving view with replay protection that records each message it handles."""
    handled = [] if calls is None else calls

    @webhooks.webhook_receiver([SECRET], replay_cache="webhooks")
    def view(request: HttpRequest) -> HttpResponse:
        handled.append(request.webhook_id)  # type: ignore[attr-defined]
        return HttpResponse(status=status)

    view.handled = handled  # type: ignore[attr-defined]
    return view


def delivery(rf: RequestFactory, msg_id: str, **signing: Any) -> HttpRequest:
    headers = webhooks.signed_headers(SECRET, msg_id, BODY, **signing)
    request: HttpRequest = rf.post("/hook", BODY, content_type="application/json", headers=headers)
    return request


@override_settings(CACHES=REPLAY_CACHES)
def test_a_replayed_message_never_reaches_the_view_again(rf: RequestFactory) -> None:
    view = replay_guarded()
    captured = delivery(rf, "msg_replayed")
    assert view(captured).status_code == 204
    # The same request again, byte for byte (an attacker replaying it), and a sender's retry
    # of it (the same id, signed again with a new timestamp).
    again = view(delivery(rf, "msg_replayed"))
    assert (again.status_code, json.loads(again.content)) == (200, {"status": "duplicate"})
    assert view(captured).status_code == 200
    assert view.handled == ["msg_replayed"]
    assert view(delivery(rf, "msg_other")).status_code == 204
    assert view.handled == ["msg_replayed", "msg_other"]


@override_settings(CACHES=REPLAY_CACHES)
def test_without_a_replay_cache_a_replay_reaches_the_view(rf: RequestFactory) -> None:
    captured = delivery(rf, "msg_twice")
    assert receiver(captured).status_code == 200
    assert receiver(captured).status_code == 200  # the view de-duplicates, if it does


@override_settings(CACHES=REPLAY_CACHES)
def test_a_message_the_view_failed_is_handled_on_its_retry(rf: RequestFactory) -> None:
    calls: list[str] = []
    failing = replay_guarded(status=503, calls=calls)
    assert failing(delivery(rf, "msg_retry")).status_code == 503
    working = replay_guarded(status=204, calls=calls)  # the same view, its database back
    working.__qualname__ = failing.__qualname__
    assert working(delivery(rf, "msg_retry")).status_code == 204
    assert calls == ["msg_retry", "msg_retry"]


@override_settings(CACHES=REPLAY_CACHES)
def test_an_exception_in_the_view_forgets_the_message(rf: RequestFactory) -> None:
    attempts: list[str] = []

    @webhooks.webhook_receiver([SECRET], replay_cache="webhooks")
    def view(request: HttpRequest) -> HttpResponse:
        attempts.append(request.webhook_id)  # type: ignore[attr-defined]
        if len(attempts) == 1:
            raise RuntimeError("database gone")
        return HttpResponse(status=204)

    with pytest.raises(RuntimeError):
        view(delivery(rf, "msg_raise"))
    assert view(delivery(rf, "msg_raise")).status_code == 204
    assert len(attempts) == 2


@override_settings(CACHES=REPLAY_CACHES)
def test_ids_are_remembered_while_their_timestamp_is_within_the_tolerance(
    rf: RequestFactory,
) -> None:
    now = int(time.time())
    # Sent 299 s into the future (a fast clock): accepted for almost 10 minutes from now.
    assert webhooks.SeenMessages.remaining(now + 299) > webhooks.TOLERANCE
    assert webhooks.TOLERANCE - 2 <= webhooks.SeenMessages.remaining(now) <= webhooks.TOLERANCE
    assert webhooks.SeenMessages.remaining(now - 299) <= 2
    view = replay_guarded()
    assert view(delivery(rf, "msg_old", timestamp=now - 299)).status_code == 204
    assert view(delivery(rf, "msg_old", timestamp=now - 299)).status_code == 200


def test_concurrent_copies_of_a_message_run_the_view_once(
    rf: RequestFactory, redis_url: str
) -> None:
    """Through a Redis cache, as separate web processes would share it."""
    import threading

    caches_setting = {
        "default": REPLAY_CACHES["default"],
        "webhooks": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-replay-{time.time_ns()}",
        },
    }
    entered = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    @webhooks.webhook_receiver([SECRET], replay_cache="webhooks")
    def slow_view(request: HttpRequest) -> HttpResponse:
        calls.append(request.webhook_id)  # type: ignore[attr-defined]
        entered.set()
        assert release.wait(timeout=10)
        return HttpResponse(status=204)

    statuses: list[int] = []
    with override_settings(CACHES=caches_setting):
        first = threading.Thread(
            target=lambda: statuses.append(slow_view(delivery(rf, "msg_race")).status_code)
        )
        first.start()
        try:
            assert entered.wait(timeout=10)
            copies = [slow_view(delivery(rf, "msg_race")).status_code for _ in range(3)]
        finally:
            release.set()
            first.join(timeout=10)
        after = slow_view(delivery(rf, "msg_race")).status_code
    assert copies == [409, 409, 409]
    assert statuses == [204]
    assert after == 200
    assert calls == ["msg_race"]


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
