"""Secrets out of error text: the one scrubber for every error message stored or logged.

Exceptions from HTTP libraries quote the URL they asked for, and some providers take the access
token in the query string (``/api/v4/user?access_token=...``): such a message must not reach a
job's ``last_error``, the admin or a log line as it is. :func:`scrub` removes

- query strings and fragments of URLs, and the user name and password in them;
- the values of ``Authorization`` headers, ``Bearer`` credentials, and of ``access_token``,
  ``refresh_token``, ``id_token``, ``code``, ``client_secret`` (and a few more such names) as
  form fields, query parameters, JSON or Python dict items;
- strings shaped like well-known tokens (JSON Web Tokens, GitHub, GitLab, Google, Facebook,
  Slack tokens);
- and any of the ``secrets`` given, wherever they appear: :func:`stored_secrets` lists the
  tokens stored for a user, which the job runner passes for the job's user.

:class:`ScrubFilter` applies the same (without ``secrets``) to log records, tracebacks included;
every postlogin logger has it (:func:`get_logger`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
#: Shorter strings are not taken for secrets: replacing them would garble the text for nothing.
MIN_SECRET_LENGTH = 6

#: Names whose value is a credential, in a query string, a form, JSON, or a dict's repr.
SECRET_NAMES = (
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "client_secret",
    "client_assertion",
    "token_secret",
    "oauth_token",
    "oauth_token_secret",
    "private_token",
    "appsecret_proof",
    "password",
    "api_key",
    "apikey",
)
_NAMES = "|".join(SECRET_NAMES)
_STOP = r"\s'\"<>"  # where a URL or a value ends in running text

_SCHEME_URL = re.compile(
    rf"(?P<start>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^{_STOP}/?#@]*@)?(?P<rest>[^{_STOP}?#]*)"
    rf"(?P<query>\?[^{_STOP}#)]*)?(?P<fragment>#[^{_STOP})]*)?",
    re.IGNORECASE,
)
# A path with a query string, as urllib3 quotes it ("Max retries exceeded with url: /a?b=c").
_PATH_QUERY = re.compile(rf"(?<![\w.:/\]])(?P<path>/[^{_STOP}?#]*)\?(?!\[redacted\])[^{_STOP}#)]+")
_NAMED_VALUE = re.compile(rf"\b(?P<name>{_NAMES})=(?!\[redacted\])[^&{_STOP},;)]+", re.IGNORECASE)
_QUOTED_ITEM = re.compile(
    rf"(?P<key>(?P<q>['\"])(?:{_NAMES}|authorization|proxy-authorization)(?P=q)\s*:\s*)"
    r"(?P<v>['\"])(?:\\.|(?!(?P=v)).)*(?P=v)",
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"\b(?P<name>(?:proxy-)?authorization)(?P<sep>\s*[:=]\s*)"
    r"(?:(?P<scheme>bearer|basic|token|digest|negotiate)\s+)?(?!\[redacted\])[^\s'\",]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{6,}", re.I)
_TOKEN_SHAPES = re.compile(
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"  # JSON Web Token
    r"|\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"  # GitHub
    r"|\bgl(?:pat|oas|rt|ptt|dt)-[A-Za-z0-9_-]{16,}"  # GitLab
    r"|\bya29\.[A-Za-z0-9_-]{16,}"  # Google access token
    r"|\b1//[A-Za-z0-9_-]{20,}"  # Google refresh token
    r"|\bEAA[A-Za-z0-9]{20,}"  # Facebook
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
)


#: What one of _TOKEN_SHAPES starts with, and what precedes a named value.
_TOKEN_PREFIXES = ("eyJ", "gh", "gl", "ya29.", "1//", "EAA", "xox")
_NAME_MARKERS = tuple(f"{name}=" for name in SECRET_NAMES)


def _url(match: re.Match[str]) -> str:
    query = f"?{REDACTED}" if match["query"] and match["query"] != "?" else ""
    fragment = f"#{REDACTED}" if match["fragment"] and match["fragment"] != "#" else ""
    userinfo = f"{REDACTED}@" if match["userinfo"] else ""
    return f"{match['start']}{userinfo}{match['rest']}{query}{fragment}"


def _header(match: re.Match[str]) -> str:
    scheme = f"{match['scheme']} " if match["scheme"] else ""
    return f"{match['name']}{match['sep']}{scheme}{REDACTED}"


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without credentials, query strings, or any of ``secrets``."""
    wanted = {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH} if secrets else ()
    for secret in sorted(wanted, key=len, reverse=True):
        # As given, as it looks inside a URL or a form, and inside a repr().
        for form in {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}:
            text = text.replace(form, REDACTED)
    if text.isidentifier() and not text.startswith(_TOKEN_PREFIXES):
        return text  # "queued", "avatar": nothing any pattern below can match
    # Each pattern runs only where a substring it needs is present.
    if "://" in text:
        text = _SCHEME_URL.sub(_url, text)
    if "?" in text:
        text = _PATH_QUERY.sub(lambda m: f"{m['path']}?{REDACTED}", text)
    if "':" in text or '":' in text or "' :" in text or '" :' in text:
        text = _QUOTED_ITEM.sub(lambda m: f"{m['key']}{m['v']}{REDACTED}{m['v']}", text)
    lowered = text.lower()
    if "authorization" in lowered:
        text = _HEADER.sub(_header, text)
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    if "=" in text and any(marker in lowered for marker in _NAME_MARKERS):
        text = _NAMED_VALUE.sub(lambda m: f"{m['name']}={REDACTED}", text)
    if any(prefix in text for prefix in _TOKEN_PREFIXES):
        text = _TOKEN_SHAPES.sub(REDACTED, text)
    return text


def describe(exc: BaseException, secrets: Iterable[str] = (), *, limit: int = 2000) -> str:
    """``"ExceptionType: message"``, scrubbed (before it is cut to ``limit`` characters, so that
    no secret is cut in two and missed)."""
    return scrub(f"{type(exc).__name__}: {exc}", secrets)[:limit]


def _token_values(data: Any) -> Iterable[str]:
    """The token strings in a social-auth ``extra_data`` (OAuth 1 keeps a dict of them)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _token_values(value)


def stored_secrets(user_id: Any) -> set[str]:
    """Every token stored for the user by the installed login libraries: social-auth's
    ``UserSocialAuth.extra_data`` and django-allauth's ``SocialToken``. One query each; meant
    for the error path only."""
    from django.apps import apps

    found: set[str] = set()
    if apps.is_installed("social_django"):
        from social_django.models import UserSocialAuth

        for extra_data in UserSocialAuth.objects.filter(user_id=user_id).values_list(
            "extra_data", flat=True
        ):
            if isinstance(extra_data, Mapping):
                for name in ("access_token", "refresh_token", "id_token"):
                    found.update(_token_values(extra_data.get(name)))
    if apps.is_installed("allauth.socialaccount"):
        from allauth.socialaccount.models import SocialToken

        for token, token_secret in SocialToken.objects.filter(account__user_id=user_id).values_list(
            "token", "token_secret"
        ):
            found.update((token, token_secret))
    return {secret for secret in found if secret}


def secrets_or_none(user_id: Any) -> set[str]:
    """:func:`stored_secrets`, or none when they cannot be read (the database is why a job
    failed, say): the patterns still apply, and recording the failure must not fail."""
    from django.db import DatabaseError

    try:
        return stored_secrets(user_id)
    except DatabaseError:
        return set()


def _scrub_value(value: Any) -> Any:
    if isinstance(value, BaseException | str):
        return scrub(str(value))
    return value


class ScrubFilter(logging.Filter):
    """Scrubs a log record in place: its arguments (or its message, when it has none), its
    ``postlogin`` fields, and its traceback.

    The traceback is formatted and scrubbed here into ``exc_text`` and ``exc_info`` is dropped:
    every formatter prints ``exc_text``, and no handler gets the exception object, whose message
    (and whose chained exceptions' messages) may hold what was scrubbed. Also usable on a
    handler, to scrub other libraries' records: ``{"()": "postlogin.scrub.ScrubFilter"}``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = {key: _scrub_value(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_scrub_value(value) for value in record.args)
        elif isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        fields = getattr(record, "postlogin", None)
        if isinstance(fields, dict):
            record.postlogin = {key: _scrub_value(value) for key, value in fields.items()}
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


_FILTER = ScrubFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with :class:`ScrubFilter` on it: postlogin's modules log
    through these only."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, ScrubFilter) for existing in logger.filters):
        logger.addFilter(_FILTER)
    return logger
