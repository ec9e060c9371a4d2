"""The outbound HTTP client every job uses: timeouts, a byte cap, and clear error types."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from .conf import postlogin_settings


class FetchError(Exception):
    """A download that will not succeed by retrying it (bad URL, 404, too large...)."""


class TransientFetchError(FetchError):
    """A download that may succeed later (connection error, timeout, 5xx, 429)."""


_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def fetch_bytes(url: str, *, max_bytes: int) -> tuple[bytes, str]:
    """GET ``url`` and return ``(body, content_type)``, reading at most ``max_bytes``.

    The cap is enforced while streaming, so a huge or endless body never sits in memory.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    if parts.username or parts.password:
        raise FetchError("credentials in URLs are refused")
    try:
        response = requests.get(
            url,
            timeout=tuple(postlogin_settings.HTTP_TIMEOUT),
            stream=True,
            headers={"User-Agent": postlogin_settings.HTTP_USER_AGENT},
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientFetchError(f"{type(exc).__name__}: {exc}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
    with response:
        if response.status_code in _TRANSIENT_STATUS:
            raise TransientFetchError(f"HTTP {response.status_code} from {parts.hostname}")
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code} from {parts.hostname}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"body of {declared} bytes is over the {max_bytes}-byte cap")
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"body is over the {max_bytes}-byte cap")
        except requests.RequestException as exc:
            raise TransientFetchError(f"{type(exc).__name__}: {exc}") from exc
        return bytes(body), response.headers.get("Content-Type", "")


def post(
    url: str, body: bytes, headers: dict[str, str], *, max_bytes: int = 64 * 1024
) -> tuple[int, dict[str, str]]:
    """POST ``body`` and return ``(status, response headers)``; the response body is read up
    to ``max_bytes`` and dropped. Connection errors and timeouts are transient."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    try:
        response = requests.post(
            url,
            data=body,
            headers={"User-Agent": postlogin_settings.HTTP_USER_AGENT, **headers},
            timeout=tuple(postlogin_settings.HTTP_TIMEOUT),
            stream=True,
            allow_redirects=False,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientFetchError(f"{type(exc).__name__}: {exc}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
    with response:
        received = 0
        for chunk in response.iter_content(chunk_size=16 * 1024):
            received += len(chunk)
            if received > max_bytes:
                break
        return response.status_code, dict(response.headers)
