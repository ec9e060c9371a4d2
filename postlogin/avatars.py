"""Avatar download, validation and normalisation, stored through Django's storage API."""

from __future__ import annotations

import hashlib
import io
import warnings

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from .conf import postlogin_settings
from .models import Profile
from .net import FetchError, TransientFetchError, fetch_bytes

#: Raster formats we decode. Anything else (SVG, HTML, PDF...) is refused.
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
_EXTENSIONS = {"WEBP": "webp", "JPEG": "jpg", "PNG": "png"}


class AvatarRejected(ValueError):
    """The picture cannot be used; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def fetch_avatar_image(url: str) -> bytes:
    """Download ``url`` and return the normalised image bytes.

    Raises :class:`AvatarRejected` for anything refused, and
    :class:`~postlogin.net.TransientFetchError` when a retry may help.
    """
    try:
        body, _content_type = fetch_bytes(url, max_bytes=postlogin_settings.AVATAR_MAX_BYTES)
    except TransientFetchError:
        raise
    except FetchError as exc:
        raise AvatarRejected("fetch_refused", str(exc)) from exc
    return normalise_image(body)


def normalise_image(data: bytes) -> bytes:
    """Decode ``data`` (after a pixel-count check) and re-encode a square thumbnail.

    Metadata (EXIF, GPS) is dropped because only pixels are copied to the new image.
    """
    max_pixels = postlogin_settings.AVATAR_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise AvatarRejected("unsupported_format", str(image.format))
            width, height = image.size
            if width * height > max_pixels:
                raise AvatarRejected("too_many_pixels", f"{width}x{height}")
            image.seek(0)  # the first frame of an animation
            image.load()
    except AvatarRejected:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise AvatarRejected("not_an_image", f"{type(exc).__name__}: {exc}") from exc

    size = postlogin_settings.AVATAR_SIZE
    output_format = str(postlogin_settings.AVATAR_FORMAT).upper()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if has_alpha and output_format != "JPEG" else "RGB"
    thumbnail = ImageOps.fit(image.convert(mode), (size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumbnail.save(out, format=output_format, quality=85)
    return out.getvalue()


def avatar_file_name(image: bytes) -> str:
    """A content-hashed name: the same picture always maps to the same file."""
    digest = hashlib.sha256(image).hexdigest()[:32]
    extension = _EXTENSIONS[str(postlogin_settings.AVATAR_FORMAT).upper()]
    return f"{digest}.{extension}"


def store_avatar(profile: Profile, image: bytes, source_url: str) -> bool:
    """Save ``image`` as the profile's avatar. Returns False when nothing changed.

    A picture already stored under its content hash is reused rather than saved again, and
    the previous file is deleted once no profile points at it any more.
    """
    field = profile.avatar.field
    name = field.generate_filename(profile, avatar_file_name(image))
    storage = field.storage
    old_name = profile.avatar.name or ""
    if old_name == name:
        if profile.avatar_source_url != source_url:
            Profile.objects.filter(pk=profile.pk).update(avatar_source_url=source_url)
        return False
    if not storage.exists(name):
        name = storage.save(name, ContentFile(image))
    Profile.objects.filter(pk=profile.pk).update(avatar=name, avatar_source_url=source_url)
    profile.avatar.name, profile.avatar_source_url = name, source_url
    if old_name and not Profile.objects.filter(avatar=old_name).exists():
        storage.delete(old_name)
    return True
