"""The outbound HTTP client for job kinds, postlogin's and a project's own.

Every call goes through :mod:`postlogin.net`'s guard: the host is resolved once and every
address vetted (``FETCH_ALLOWED_NETWORKS``), the connection is pinned to the vetted address,
``HTTP_TIMEOUT`` bounds the connection, each read and the whole call, and the body is read up to
a byte cap. A kind calls an API like this::

    response = http.post(url, json=payload, headers={"Idempotency-Key": http.idempotency_key(job)})
    http.raise_for_outcome(response, what="the CRM")

and the runner does the rest: a 2xx returns, so the job is done; a timeout, a connection error
or one of :data:`RETRIED_STATUSES` raises :class:`TransientFetchError` (retried with backoff,
no sooner than its ``Retry-After``); anything else raises a permanent :class:`FetchError` (a
refused address, a refused redirect, a bad URL, an oversized or compressed body, any other
status), and the job fails at once, with no retry.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .net import (
    RETRIED_STATUSES,
    FetchError,
    Response,
    TransientFetchError,
    fetch_bytes,
    request,
    status_error,
)

if TYPE_CHECKING:
    from .models import Job

__all__ = [
    "IDEMPOTENCY_HEADER",
    "RETRIED_STATUSES",
    "FetchError",
    "Response",
    "TransientFetchError",
    "fetch_bytes",
    "idempotency_key",
    "post",
    "raise_for_outcome",
    "request",
]

#: The header that carries :func:`idempotency_key` (the IETF draft's, which Stripe and most
#: APIs that de-duplicate requests read).
IDEMPOTENCY_HEADER = "Idempotency-Key"


def post(
    url: str,
    *,
    json: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_bytes: int = 64 * 1024,
) -> Response:
    """POST ``json`` (encoded compactly, ``Content-Type: application/json``) or ``body`` (bytes,
    with your own ``Content-Type``) to ``url``; the :class:`Response`, whatever its status.

    Redirects are not followed (a 3xx is an answer like any other). The response body is read
    up to ``max_bytes``; :attr:`Response.body` and :meth:`Response.json` raise the permanent
    ``too_large`` error past it.
    """
    sent_headers = dict(headers or {})
    if json is not None:
        if body is not None:
            raise TypeError("post() takes json or body, not both")
        body = jsonlib.dumps(json, separators=(",", ":")).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    return request("POST", url, body=body, headers=sent_headers, max_bytes=max_bytes)


def raise_for_outcome(response: Response, *, what: str = "") -> None:
    """Return if ``response`` is a success (2xx); otherwise raise what the runner acts on:
    :class:`TransientFetchError` for :data:`RETRIED_STATUSES`, with the server's
    ``Retry-After`` as ``retry_after`` (the job is retried, no sooner than that), a permanent
    :class:`FetchError` (reason ``http_status``) for any other status (the job fails at once).

    ``what`` names the receiver in the error text (``"webhook crm"``); the URL's host by default.
    """
    status = response.status
    if 200 <= status < 300:
        return
    source = what or urlsplit(response.url).hostname or response.url
    raise status_error(status, response.headers, f"HTTP {status} from {source}")


def idempotency_key(job: Job) -> str:
    """A key for the remote system to recognise the same request: the same on every attempt and
    replay of ``job``, and for any job of the same user, kind and key (the ledger's idempotency
    key), which is the same work; different for any other work. Send it as
    :data:`IDEMPOTENCY_HEADER`. It reveals nothing of the job (a hash).
    """
    work = f"{job.kind}\x00{job.user_id}\x00{job.key}".encode()
    return f"postlogin-{hashlib.sha256(work).hexdigest()[:32]}"
