"""A fast local OpenID Connect provider and a slow avatar host, for the benchmarks.

Stateless, so it answers in well under a millisecond of work: the authorization code is the
user and the nonce encoded in base64url JSON (:func:`make_code`), the access token is the user,
and the ID token is signed with RS256 (an RSA key made at start-up, published as JWKS).

Endpoints (the issuer is ``http://127.0.0.1:<port>``, no path):

- ``/.well-known/openid-configuration``, ``/jwks``
- ``/authorize?redirect_uri=&state=&nonce=&login_hint=<sub>``: redirects back with a code at
  once (the benchmarks skip it and build the code with :func:`make_code`)
- ``POST /token`` (client_secret_basic or client_secret_post), ``/userinfo`` (Bearer)
- ``/avatars/<name>.png``: a 256 px picture per name, after ``avatar_delay`` seconds

Run it on its own with ``python -m bench.fake_idp --port 8001 --avatar-delay 2``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import io
import json
import signal
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "postlogin-bench"
CLIENT_SECRET = "postlogin-bench-secret"  # noqa: S105  (a loopback test provider's secret)
KEY_ID = "bench-1"


def b64url_json(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def from_b64url_json(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


def make_code(sub: str, nonce: str, *, picture: bool = True) -> str:
    """The authorization code the provider accepts for ``sub`` (what /authorize would issue)."""
    return b64url_json({"sub": sub, "nonce": nonce, "picture": picture})


@functools.lru_cache(maxsize=4096)
def picture(name: str) -> bytes:
    """A 256 px PNG whose colour depends on the name, so every user's picture is different."""
    from PIL import Image, ImageDraw

    crc = zlib.crc32(name.encode())
    color = (crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF)
    image = Image.new("RGB", (256, 256), color)
    ImageDraw.Draw(image).ellipse((48, 48, 208, 208), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class FakeProvider:
    """The provider and avatar host on one loopback port, served by a thread per connection."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, avatar_delay: float = 2.0
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.avatar_delay = avatar_delay
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.server = _Server((host, port), _Handler)
        self.server.provider = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def avatar_url(self, name: str) -> str:
        return f"{self.issuer}/avatars/{name}.png"

    # --- documents ---

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=KEY_ID, use="sig", alg="RS256")
        return {"keys": [jwk]}

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        import jwt

        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ":"
            client_id, _, secret = decoded.partition(":")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        try:
            code = from_b64url_json(form.get("code", ""))
            sub, nonce = str(code["sub"]), str(code["nonce"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        id_token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KEY_ID})
        access_token = b64url_json({"sub": sub, "picture": bool(code.get("picture", True))})
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        if not authorization.startswith("Bearer "):
            return 401, {"error": "invalid_token"}
        try:
            token = from_b64url_json(authorization[7:])
            sub = str(token["sub"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return 401, {"error": "invalid_token"}
        info: dict[str, Any] = {
            "sub": sub,
            "preferred_username": sub,
            "email": f"{sub}@bench.example",
            "email_verified": True,
            "name": f"Bench {sub}",
            "given_name": "Bench",
            "family_name": sub,
        }
        if token.get("picture", True):
            info["picture"] = self.avatar_url(sub)
        return 200, info

    def authorize_redirect(self, query: dict[str, str]) -> str | None:
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            return None
        code = make_code(query.get("login_hint") or "user", query.get("nonce", ""))
        separator = "&" if "?" in redirect_uri else "?"
        return (
            f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        )

    # --- running ---

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    provider: FakeProvider


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        provider = self.server.provider
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/.well-known/openid-configuration":
            self._json(200, provider.discovery())
        elif path == "/jwks":
            self._json(200, provider.jwks())
        elif path == "/userinfo":
            self._json(*provider.userinfo(self.headers.get("Authorization", "")))
        elif path == "/authorize":
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            location = provider.authorize_redirect(query)
            if location is None:
                self._json(400, {"error": "invalid_request"})
            else:
                self._send(302, b"", "text/plain", Location=location)
        elif path.startswith("/avatars/") and path.endswith(".png"):
            name = path[len("/avatars/") : -len(".png")]
            if not name or len(name) > 100 or "/" in name:
                self._json(404, {"error": "not_found"})
                return
            time.sleep(provider.avatar_delay)
            self._send(200, picture(name), "image/png")
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        provider = self.server.provider
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if urlsplit(self.path).path != "/token":
            self._json(404, {"error": "not_found"})
            return
        form = {key: values[0] for key, values in parse_qs(body).items()}
        self._json(*provider.token(form, self.headers.get("Authorization", "")))

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--avatar-delay", type=float, default=2.0)
    args = parser.parse_args(argv)
    provider = FakeProvider(port=args.port, avatar_delay=args.avatar_delay)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with provider:
        print(f"ready {provider.issuer}", flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
