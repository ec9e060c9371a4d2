"""The scrubber, the log filter on every postlogin logger, and the error codes users see."""

from __future__ import annotations

import logging
import re
import smtplib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from social_django.models import UserSocialAuth

from postlogin import error_codes, scrub
from postlogin.accounts import TokensRefused, installed_sources
from postlogin.avatars import AvatarRejected
from postlogin.jobs import PermanentJobError, RetryLater
from postlogin.net import FetchError, TransientFetchError

ROOT = Path(__file__).resolve().parent.parent
GITLAB_TOKEN = "glpat-Zx81kQp2LmN4vB7sT0aY"

# What HTTP libraries and providers really put in their messages, with a secret in each.
LEAKS = [
    (
        "urllib3's relative URL",
        "HTTPSConnectionPool(host='gitlab.com', port=443): Max retries exceeded with url: "
        "/api/v4/user?access_token=opaque-gitlab-value (Caused by NewConnectionError(...))",
        "opaque-gitlab-value",
    ),
    (
        "requests' HTTPError",
        "401 Client Error: Unauthorized for url: https://graph.facebook.com/v19.0/me?"
        "fields=id%2Cemail&access_token=opaque-facebook-value&appsecret_proof=4f2a",
        "opaque-facebook-value",
    ),
    ("userinfo", "cannot reach amqp://postlogin:hunter2-broker@10.0.0.7:5672//", "hunter2-broker"),
    ("fragment", "redirected to https://app.example/cb#access_token=implicit-value", "implicit-"),
    ("header dict", "sent {'Authorization': 'Bearer opaque-header-value'}", "opaque-header"),
    ("header line", "Authorization: token opaque-line-value", "opaque-line-value"),
    ("bearer", "invalid header value: 'Bearer opaque-bearer-value\\n'", "opaque-bearer"),
    ("form", "body grant_type=refresh_token&refresh_token=opaque-refresh", "opaque-refresh"),
    ("client secret", "client_id=app&client_secret=opaque-client-secret", "opaque-client"),
    ("code", "exchange failed for code=opaque-code-value&state=x", "opaque-code-value"),
    ("json", '{"error": "invalid_grant", "id_token": "opaque-id-token"}', "opaque-id-token"),
    ("jwt", "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl rejected", "eyJhbGci"),
    ("github", "bad credentials for ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e"),
    ("gitlab", f"token {GITLAB_TOKEN} expired", GITLAB_TOKEN),
    ("google", "token ya29.a0AfB_byC1234567890abcdefghij expired", "ya29.a0AfB"),
]


@pytest.mark.parametrize(
    ("text", "secret"), [leak[1:] for leak in LEAKS], ids=[leak[0] for leak in LEAKS]
)
def test_credentials_are_removed_from_error_text(text: str, secret: str) -> None:
    scrubbed = scrub.scrub(text)
    assert secret not in scrubbed
    assert scrub.REDACTED in scrubbed


def test_what_helps_staff_is_kept() -> None:
    text = (
        "HTTPSConnectionPool(host='gitlab.example', port=443): Max retries exceeded with url: "
        "/api/v4/user?access_token=x1y2z3w4 (Caused by ConnectTimeoutError(..., 'timed out'))"
    )
    assert scrub.scrub(text) == text.replace("?access_token=x1y2z3w4", "?[redacted]")
    line = "postlogin job 7 retry: kind=avatar user=3 error_code=timeout countdown_s=1.5"
    assert scrub.scrub(line) == line, "our own log lines pass unchanged"
    refusal = "hr-db.corp.internal (10.20.30.40) is not a public address"
    assert scrub.scrub(refusal) == refusal, "staff see the host; users see a code"
    assert scrub.scrub("https://cdn.example/a.png?") == "https://cdn.example/a.png"


def test_stored_token_values_are_removed_wherever_they_appear() -> None:
    token = "opaque/value+with=chars"
    text = (
        f"GET /users/{token}/profile failed; sent x-api-token: {token}; "
        f"url /me?t=1 then https://api.example/{quote(token, safe='')}/x"
    )
    scrubbed = scrub.scrub(text, {token, "short"})
    assert token not in scrubbed
    assert "opaque" not in scrubbed
    assert scrub.scrub("a short word", {"short"}) == "a short word", "too short to be a secret"


def test_describe_scrubs_before_it_cuts() -> None:
    token = "opaque-token-at-the-cut"
    message = "x" * 1990 + token
    described = scrub.describe(ValueError(message), {token})
    assert described.startswith("ValueError: xxx")
    assert "opaque-t" not in described
    assert len(described) <= 2000


@pytest.mark.django_db
def test_stored_secrets_are_the_users_social_auth_tokens(
    user: Any, django_user_model: Any, django_assert_max_num_queries: Any
) -> None:
    UserSocialAuth.objects.create(
        user=user,
        provider="gitlab",
        uid="1",
        extra_data={"access_token": GITLAB_TOKEN, "refresh_token": "glrt-refresh", "expires": 7200},
    )
    UserSocialAuth.objects.create(
        user=user,
        provider="twitter",
        uid="2",
        extra_data={"access_token": {"oauth_token": "oauth1-tok", "oauth_token_secret": "s3c"}},
    )
    other = django_user_model.objects.create_user("other")
    UserSocialAuth.objects.create(
        user=other, provider="gitlab", uid="3", extra_data={"access_token": "not-ada"}
    )
    with django_assert_max_num_queries(len(installed_sources())):  # one per login library
        assert scrub.stored_secrets(user.pk) == {
            GITLAB_TOKEN,
            "glrt-refresh",
            "oauth1-tok",
            "s3c",
        }


def test_the_log_filter_scrubs_arguments_messages_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = scrub.get_logger("postlogin.tests_scrub")
    assert scrub.get_logger("postlogin.tests_scrub").filters == logger.filters, "added once"
    url = "https://gitlab.com/api/v4/user?access_token=opaque-in-the-log"
    caplog.set_level(logging.INFO, logger="postlogin")
    logger.info("asked %s", url)
    logger.info(f"asked {url}")
    logger.info("asked %(url)s", {"url": url})
    try:
        try:
            raise requests.ConnectionError(f"Max retries exceeded with url: {url}")
        except requests.ConnectionError as exc:
            raise RuntimeError(f"re-sync failed: {exc}") from exc
    except RuntimeError:
        logger.exception("re-sync of user %s failed", 7)
    assert "opaque-in-the-log" not in caplog.text
    assert caplog.text.count("?[redacted]") == 5, "both exceptions of the chain are scrubbed"
    last = caplog.records[-1]
    assert last.exc_info is None, "no handler gets the unscrubbed exception object"
    assert "Traceback" in (last.exc_text or "")
    assert "The above exception was the direct cause" in caplog.text


def test_every_postlogin_logger_scrubs() -> None:
    """Modules log through scrub.get_logger only: a plain logging.getLogger would not scrub."""
    plain = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "postlogin").rglob("*.py")
        if path.name != "scrub.py" and re.search(r"logging\.getLogger\(", path.read_text())
    ]
    assert plain == []
    import postlogin.dispatch
    import postlogin.social.pipeline  # noqa: F401

    loggers = [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith("postlogin.") and isinstance(logger, logging.Logger)
    ]
    assert len(loggers) >= 6
    for logger in loggers:
        assert any(isinstance(f, scrub.ScrubFilter) for f in logger.filters), logger.name


# --- error codes ---------------------------------------------------------------------------


def _caused(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} Error", response=response)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (
            _caused(
                PermanentJobError("address_not_allowed: hr-db.corp.internal (10.20.30.40)"),
                AvatarRejected("address_not_allowed", "hr-db.corp.internal (10.20.30.40)"),
            ),
            "fetch_refused",
        ),
        (FetchError("credentials_in_url", "refused"), "fetch_refused"),
        (TransientFetchError("timeout", "timed out talking to cdn.example"), "timeout"),
        (TransientFetchError("connection_error", "cannot connect"), "unreachable"),
        (TransientFetchError("http_status", "HTTP 429", status=429), "rate_limited"),
        (FetchError("http_status", "HTTP 404 from cdn.example", status=404), "not_found"),
        (FetchError("http_status", "HTTP 403 from cdn.example", status=403), "provider_error"),
        (AvatarRejected("too_large", "body over the cap", status=200), "too_large"),
        (AvatarRejected("too_many_pixels", "50000x50000"), "too_large"),
        (AvatarRejected("corrupt_image", "OSError"), "unsupported_image"),
        (AvatarRejected("no_access_token", "none stored"), "needs_login"),
        (RetryLater(3, "rate limited: github", counts_as_attempt=False), "rate_limited"),
        (RetryLater(3, "HTTP 503 from webhook crm", code="provider_error"), "provider_error"),
        (PermanentJobError("refused", code="provider_error"), "provider_error"),
        (requests.ConnectTimeout("Max retries exceeded"), "timeout"),
        (requests.ConnectionError("Max retries exceeded"), "unreachable"),
        (_http_error(503), "provider_error"),
        (_http_error(429), "rate_limited"),
        (TokensRefused("401"), "needs_login"),
        (smtplib.SMTPServerDisconnected("smtp.corp.internal closed"), "email_failed"),
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (PermanentJobError("no job kind 'crm' is registered"), "internal_error"),
        (KeyError("payload"), "internal_error"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value,
)
def test_the_error_code_comes_from_the_exception(exc: BaseException, code: str) -> None:
    assert error_codes.code_for(exc) == code


def test_every_code_has_a_message_and_is_documented() -> None:
    assert set(error_codes.REASONS.values()) <= set(error_codes.MESSAGES)
    documented = (ROOT / "docs" / "security.md").read_text()
    for code, message in error_codes.MESSAGES.items():
        assert f"`{code}`" in documented, code
        assert str(message) in documented, code
    assert error_codes.message("no_such_code") == str(error_codes.MESSAGES["internal_error"])
