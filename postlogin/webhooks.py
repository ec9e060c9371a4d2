"""Standard Webhooks (https://www.standardwebhooks.com/): signing, verifying, receiving.

A message is signed as HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` with the
secret's bytes (the base64 part of ``whsec_...``) and sent in three headers::

    webhook-id: msg_2b7c...            (the same on every retry: receivers de-duplicate on it)
    webhook-timestamp: 1767225600      (seconds since the epoch)
    webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=

Receivers check the signature with any matching secret (so secrets can be rotated) and refuse
timestamps more than five minutes away from their clock (replays); within those five minutes,
``webhook_receiver(..., replay_cache=...)`` refuses a message id it has already seen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse

from .numbers import ascii_int

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SIGNATURE_VERSION = "v1"
#: How far a message's timestamp may be from the receiver's clock, in seconds.
TOLERANCE = 5 * 60


class InvalidWebhook(ValueError):
    """The request is not a genuine, fresh message; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_secret(secret: str | bytes) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (raw bytes are taken as they are)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if len(key) < 16:
        raise ValueError("a webhook secret must be at least 16 bytes (24 and more recommended)")
    return key


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(
    secret: str | bytes, msg_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed now (or at ``timestamp``)."""
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(when),
        "webhook-signature": sign(secret, msg_id, when, body),
    }


def verify(
    secrets: str | bytes | Iterable[str | bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> str:
    """Check a received message; returns its ``webhook-id`` or raises :class:`InvalidWebhook`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp_text = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and timestamp_text and signatures):
        raise InvalidWebhook("missing_headers")
    # ASCII digits only: int() would also take "+1767225600" or other scripts' digits, a
    # spelling other than the one that was signed.
    timestamp = ascii_int(timestamp_text)
    if timestamp is None:
        raise InvalidWebhook("bad_timestamp")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE:
        raise InvalidWebhook("timestamp_out_of_tolerance")
    keys = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    expected = [sign(key, msg_id, timestamp, body).encode() for key in keys]
    for candidate in signatures.split():
        version, _, _ = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        if any(hmac.compare_digest(candidate.encode(), wanted) for wanted in expected):
            return msg_id
    raise InvalidWebhook("no_matching_signature")


View = Callable[..., HttpResponse]

#: Cache key prefix of the message ids a receiver has seen (``replay_cache``).
SEEN_KEY_PREFIX = "postlogin:webhook-seen:"
_IN_PROGRESS = "in-progress"
_HANDLED = "handled"


class SeenMessages:
    """The message ids one receiving view has seen, in a Django cache, for as long as their
    timestamp is within the tolerance (after that :func:`verify` refuses them anyway).

    ``cache.add`` is atomic on every shared backend (Redis, Memcached, database): of two
    copies arriving at once, exactly one gets through.
    """

    def __init__(self, alias: str, view: View) -> None:
        self.alias = alias
        self.scope = f"{view.__module__}.{view.__qualname__}"

    def key(self, msg_id: str) -> str:
        # Hashed: ids are the sender's text, cache keys have length and character limits.
        digest = hashlib.sha256(f"{self.scope}\0{msg_id}".encode()).hexdigest()
        return SEEN_KEY_PREFIX + digest

    @staticmethod
    def remaining(timestamp: int) -> int:
        """Seconds until a message with this timestamp is out of the tolerance."""
        return max(1, min(2 * TOLERANCE, math.ceil(timestamp + TOLERANCE - time.time())))

    def claim(self, msg_id: str, timestamp: int) -> str | None:
        """None when this is the message's first copy; else the state of the first one."""
        cache = caches[self.alias]
        key = self.key(msg_id)
        if cache.add(key, _IN_PROGRESS, self.remaining(timestamp)):
            return None
        return str(cache.get(key, _IN_PROGRESS))

    def settle(self, msg_id: str, timestamp: int, *, handled: bool) -> None:
        """Remember a handled message; forget one the view failed, so that the sender's
        retry (the same id) gets through."""
        cache = caches[self.alias]
        if handled:
            cache.set(self.key(msg_id), _HANDLED, self.remaining(timestamp))
        else:
            cache.delete(self.key(msg_id))


def webhook_receiver(
    secrets: str | Iterable[str] | Callable[[], Iterable[str]],
    *,
    replay_cache: str | None = None,
) -> Callable[[View], View]:
    """Decorate a Django view that receives Standard Webhooks.

    The view runs only for a genuine, fresh message, with ``request.webhook_id`` and
    ``request.webhook_payload`` (the parsed JSON) set; anything else gets a 401 (bad signature
    or timestamp) or 400 (not JSON). De-duplicate on ``request.webhook_id``: a retried message
    keeps its id. ``secrets`` may be a callable, read at each request (e.g. from settings).
    Apply ``csrf_exempt`` too: webhooks carry no CSRF token.

    With ``replay_cache`` (the alias of a Django cache shared by all the site's processes), a
    message id seen within the tolerance never reaches the view again: a copy of a message the
    view handled (2xx) is answered 200 ``{"status": "duplicate"}``, so that its sender stops
    retrying; a copy arriving while the first is still being handled is answered 409. A
    message the view failed (not 2xx, or an exception) is forgotten, so its retry gets through.
    """

    def decorator(view: View) -> View:
        seen = SeenMessages(replay_cache, view) if replay_cache else None

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            keys = secrets() if callable(secrets) else secrets
            try:
                msg_id = verify(keys, request.headers, request.body)
            except InvalidWebhook as exc:
                return JsonResponse({"error": exc.reason}, status=401)
            try:
                payload = json.loads(request.body)
            except ValueError:
                return JsonResponse({"error": "body_not_json"}, status=400)
            request.webhook_id = msg_id  # type: ignore[attr-defined]
            request.webhook_payload = payload  # type: ignore[attr-defined]
            if seen is None:
                return view(request, *args, **kwargs)
            return _once(
                seen, msg_id, int(request.headers["webhook-timestamp"]), view, request, args, kwargs
            )

        return wrapper

    return decorator


def _once(
    seen: SeenMessages,
    msg_id: str,
    timestamp: int,
    view: View,
    request: HttpRequest,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> HttpResponse:
    first = seen.claim(msg_id, timestamp)
    if first == _HANDLED:
        return JsonResponse({"status": "duplicate"}, status=200)
    if first is not None:
        return JsonResponse({"error": "duplicate_in_progress"}, status=409)
    try:
        response = view(request, *args, **kwargs)
    except BaseException:
        seen.settle(msg_id, timestamp, handled=False)
        raise
    seen.settle(msg_id, timestamp, handled=200 <= response.status_code < 300)
    return response
