"""What a user is told about a job that did not succeed: a stable code and a short message.

The code is chosen when the failure is recorded, from the exception itself (a fetch's
``reason``, an HTTP status, the exception's type), and stored in ``Job.error_code``; the
per-user job status shows the code and its translated message, never the error text, which can
name internal hosts and addresses (``last_error``, for staff, in the admin and the logs).

A handler can choose the code itself: ``raise PermanentJobError("...", code="provider_error")``.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import requests
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: Every code, with what the user is told.
MESSAGES: dict[str, Promise] = {
    "fetch_refused": _("The address given for it cannot be used."),
    "not_found": _("It was not found where the provider said it was."),
    "unreachable": _("The service could not be reached."),
    "timeout": _("The service took too long to answer."),
    "provider_error": _("The service answered with an error."),
    "too_large": _("The picture is too large."),
    "unsupported_image": _("The picture is not in a format we can use."),
    "rate_limited": _("Waiting: too many requests to the service."),
    "needs_login": _("Sign in again to allow this."),
    "email_failed": _("The email could not be sent."),
    "internal_error": _("Something went wrong on our side."),
}
INTERNAL_ERROR = "internal_error"

#: ``postlogin.net.FetchError.reason`` and ``postlogin.avatars.AvatarRejected.reason`` -> code.
REASONS = {
    "scheme_not_allowed": "fetch_refused",
    "credentials_in_url": "fetch_refused",
    "bad_url": "fetch_refused",
    "address_not_allowed": "fetch_refused",
    "too_many_redirects": "fetch_refused",
    "bad_redirect": "fetch_refused",
    "unresolvable": "unreachable",
    "connection_error": "unreachable",
    "tls_error": "unreachable",
    "timeout": "timeout",
    "http_status": "provider_error",
    "unexpected_encoding": "provider_error",
    "bad_body": "provider_error",
    "too_large": "too_large",
    "too_many_pixels": "too_large",
    "not_an_image": "unsupported_image",
    "corrupt_image": "unsupported_image",
    "no_access_token": "needs_login",
    "no_photo": "not_found",
}


def message(code: str) -> str:
    """The user's message for ``code``, in the active language (unknown codes: internal)."""
    return str(MESSAGES.get(code, MESSAGES[INTERNAL_ERROR]))


def for_status(status: int | None) -> str:
    """The code for an HTTP error status from a provider or a webhook receiver."""
    if status in (404, 410):
        return "not_found"
    if status == 429:
        return "rate_limited"
    return "provider_error"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, and so on (a few links at most; cycles stop it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _own_code(exc: BaseException) -> str | None:
    from .accounts import TokensRefused
    from .jobs import RetryLater
    from .net import FetchError

    chosen = getattr(exc, "error_code", None)
    if isinstance(chosen, str) and chosen in MESSAGES:
        return chosen
    if isinstance(exc, RetryLater) and not exc.counts_as_attempt:
        return "rate_limited"
    reason = getattr(exc, "reason", None)
    if (
        isinstance(reason, str)
        and reason in REASONS
        and type(exc).__module__.startswith("postlogin.")
    ):
        status = getattr(exc, "status", None)
        if reason == "http_status" or (isinstance(exc, FetchError) and status in (404, 410, 429)):
            return for_status(status)
        return REASONS[reason]
    if isinstance(exc, TokensRefused):
        return "needs_login"
    if isinstance(exc, requests.Timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, requests.HTTPError):
        return for_status(getattr(exc.response, "status_code", None))
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return "unreachable"
    if isinstance(exc, smtplib.SMTPException):
        return "email_failed"
    return None


def _from_login_library(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("social_core.", "allauth."))


def code_for(exc: BaseException) -> str:
    """The code for a job's failure ``exc``: the first that ``exc`` or one of its causes says.

    The login libraries wrap what went wrong (social-core's ``AuthProviderError`` from a
    ``requests.Timeout``): their exceptions say ``provider_error`` only if no cause says more.
    """
    fallback = INTERNAL_ERROR
    for link in _chain(exc):
        code = _own_code(link)
        if code is not None:
            return code
        if _from_login_library(link):
            fallback = "provider_error"
    return fallback
