"""The built-in work, run directly: avatar download and storage, the welcome email."""

from __future__ import annotations

import io
import smtplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from PIL import Image

from postlogin import jobs
from postlogin.avatars import AvatarRejected, normalise_image
from postlogin.models import Profile
from postlogin.net import FetchError, TransientFetchError, fetch_bytes

from .helpers import http_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("ada", "ada@example.com", first_name="Ada")


def serve(body: bytes, status: int = 200, content_type: str = "image/png") -> Any:
    return http_server(lambda path, n: (status, {"Content-Type": content_type}, body))


def test_avatar_is_normalised_and_stored(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes((300, 200))) as server:
        assert jobs.fetch_avatar(user.pk, server.url("/a.png")) is True
    profile = Profile.objects.get(user=user)
    assert profile.avatar_source_url == server.url("/a.png")
    with Image.open(profile.avatar.path) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))


def test_same_url_is_not_fetched_twice(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes()) as server:
        jobs.fetch_avatar(user.pk, server.url("/a.png"))
        assert jobs.fetch_avatar(user.pk, server.url("/a.png")) is False
    assert len(server.hits) == 1


def test_same_picture_at_a_new_url_is_not_stored_twice(
    user: Any, png_bytes: Callable[..., bytes]
) -> None:
    with serve(png_bytes()) as server:
        jobs.fetch_avatar(user.pk, server.url("/a.png"))
        first = Profile.objects.get(user=user).avatar.name
        assert jobs.fetch_avatar(user.pk, server.url("/a.png?v=2")) is False
    profile = Profile.objects.get(user=user)
    assert profile.avatar.name == first
    assert profile.avatar_source_url.endswith("?v=2")


def test_changed_picture_replaces_the_old_file(user: Any, png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes(color="red")) as server:
        jobs.fetch_avatar(user.pk, server.url("/red.png"))
    old_path = Path(Profile.objects.get(user=user).avatar.path)
    with serve(png_bytes(color="blue")) as server:
        assert jobs.fetch_avatar(user.pk, server.url("/blue.png")) is True
    new_path = Path(Profile.objects.get(user=user).avatar.path)
    assert new_path != old_path
    assert new_path.exists()
    assert not old_path.exists()


def test_exif_metadata_is_stripped(png_bytes: Callable[..., bytes]) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(out, format="JPEG", exif=exif)
    normalised = normalise_image(out.getvalue())
    with Image.open(io.BytesIO(normalised)) as image:
        assert not image.getexif()
    assert b"SecretCam" not in normalised


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_an_image"),
        (b"<!doctype html><p>hello</p>", "not_an_image"),
        (b"", "not_an_image"),
    ],
)
def test_non_images_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(AvatarRejected) as info:
        normalise_image(body)
    assert info.value.reason == reason


def test_unsupported_raster_format_is_rejected() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="BMP")
    with pytest.raises(AvatarRejected) as info:
        normalise_image(out.getvalue())
    assert info.value.reason == "unsupported_format"


def test_too_many_pixels_is_rejected(settings: Any, png_bytes: Callable[..., bytes]) -> None:
    settings.POSTLOGIN = {"AVATAR_MAX_PIXELS": 100}
    with pytest.raises(AvatarRejected) as info:
        normalise_image(png_bytes((11, 10)))
    assert info.value.reason == "too_many_pixels"


def test_http_errors_are_permanent_or_transient(user: Any) -> None:
    with serve(b"missing", status=404) as server, pytest.raises(AvatarRejected) as info:
        jobs.fetch_avatar(user.pk, server.url("/a.png"))
    assert info.value.reason == "fetch_refused"
    with serve(b"busy", status=503) as server, pytest.raises(TransientFetchError):
        jobs.fetch_avatar(user.pk, server.url("/a.png"))


def test_body_over_the_cap_is_refused() -> None:
    with serve(b"x" * 2048) as server, pytest.raises(FetchError, match="over the 1024-byte cap"):
        fetch_bytes(server.url("/big"), max_bytes=1024)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "file:///etc/passwd", "https://user:pw@example.com/a.png"]
)
def test_refused_urls_never_connect(url: str) -> None:
    with pytest.raises(FetchError):
        fetch_bytes(url, max_bytes=1024)


def test_connection_refused_is_transient() -> None:
    from .helpers import unused_port

    with pytest.raises(TransientFetchError):
        fetch_bytes(f"http://127.0.0.1:{unused_port()}/a.png", max_bytes=1024)


def test_welcome_email_is_sent_once(user: Any) -> None:
    assert jobs.send_welcome_email(user.pk) is True
    assert jobs.send_welcome_email(user.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "Welcome, Ada!"
    assert isinstance(message, EmailMultiAlternatives)
    assert message.alternatives[0][1] == "text/html"
    assert Profile.objects.get(user=user).welcomed_at is not None


def test_failed_send_releases_the_claim(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        jobs.send_welcome_email(user.pk)
    assert Profile.objects.get(user=user).welcomed_at is None
    monkeypatch.undo()
    assert jobs.send_welcome_email(user.pk) is True
    assert len(mail.outbox) == 1


def test_welcome_email_skips_users_without_address_or_row() -> None:
    no_email = get_user_model().objects.create_user("nomail")
    assert jobs.send_welcome_email(no_email.pk) is False
    assert jobs.send_welcome_email(987654) is False
    assert mail.outbox == []
