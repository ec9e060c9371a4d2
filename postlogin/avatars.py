"""Avatar download, validation and normalisation, stored through Django's storage API.

A picture is accepted only if its bytes decode as PNG, JPEG, GIF or WebP: the Content-Type a
server claims is never trusted. Its dimensions are read from the header and checked before any
pixel is decoded, and the stored file is a new square image holding only pixels, without the
original's metadata (EXIF, GPS, XMP, comments).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from .conf import postlogin_settings
from .models import Profile
from .net import FetchError, TransientFetchError, fetch_bytes
from .scrub import get_logger

logger = get_logger(__name__)

#: Raster formats we decode, by Pillow's name. Pillow is not even asked to try any other.
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_EXTENSIONS = {"WEBP": "webp", "JPEG": "jpg", "PNG": "png"}
#: Declared types that are never a raster picture, refused before decoding.
_REFUSED_TYPES = ("text/", "image/svg", "application/xml", "application/json", "application/xhtml")
_ACCEPT = "image/webp,image/png,image/jpeg,image/gif;q=0.9"


class AvatarRejected(ValueError):
    """The picture cannot be used; ``reason`` is a stable machine-readable code.

    ``status`` is the HTTP status of the refused download, when there was one.
    """

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status


def fetch_avatar_image(url: str, *, headers: Mapping[str, str] | None = None) -> bytes:
    """Download ``url`` through :mod:`postlogin.net` and return the normalised image bytes.

    Raises :class:`AvatarRejected` for anything refused (its ``reason`` is the fetch's, such as
    ``address_not_allowed`` or ``too_large``, or the image's, such as ``too_many_pixels``), and
    :class:`~postlogin.net.TransientFetchError` when a retry may help.
    """
    try:
        body, content_type = fetch_bytes(
            url,
            max_bytes=postlogin_settings.AVATAR_MAX_BYTES,
            headers={"Accept": _ACCEPT, **(headers or {})},
        )
    except TransientFetchError:
        raise
    except FetchError as exc:
        raise AvatarRejected(exc.reason, str(exc), status=exc.status) from exc
    check_content_type(content_type)
    return normalise_image(body)


def check_content_type(content_type: str) -> None:
    """Refuse a body its server itself calls something else than a picture (HTML, SVG...).

    Only a refusal: an ``image/png`` label proves nothing, the bytes decide.
    """
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared.startswith(_REFUSED_TYPES):
        raise AvatarRejected("not_an_image", f"served as {declared}")


def normalise_image(data: bytes) -> bytes:
    """Check ``data`` (format, then pixel count), decode it and re-encode a square thumbnail."""
    image = _open_header(data)
    try:
        _decode(image)
        return _thumbnail(image)
    finally:
        image.close()


def _open_header(data: bytes) -> Image.Image:
    """Identify the format and read the dimensions; no pixel is decoded yet."""
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (Image.MAX_IMAGE_PIXELS): the warning is only raised as an
        # exception where warnings are errors, and means the same.
        raise AvatarRejected("too_many_pixels", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise AvatarRejected(
            "not_an_image", f"not a {', '.join(ACCEPTED_FORMATS)} image ({type(exc).__name__})"
        ) from exc
    width, height = image.size
    if width * height > postlogin_settings.AVATAR_MAX_PIXELS:
        image.close()
        raise AvatarRejected(
            "too_many_pixels",
            f"{width}x{height} is over AVATAR_MAX_PIXELS ({postlogin_settings.AVATAR_MAX_PIXELS})",
        )
    return image


def _decode(image: Image.Image) -> None:
    """Decode the first frame, at reduced scale where the format allows, then orient it."""
    size = postlogin_settings.AVATAR_SIZE
    try:
        if image.format == "JPEG":
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for free: never more pixels than needed.
            image.draft(None, (size, size))
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise AvatarRejected("corrupt_image", f"{type(exc).__name__}: {exc}") from exc
    try:
        # Phone cameras store the picture sideways plus an EXIF orientation; the metadata is
        # about to go, so apply it to the pixels first.
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        logger.info("postlogin: ignoring the unreadable EXIF orientation of an avatar")


def _thumbnail(image: Image.Image) -> bytes:
    size = postlogin_settings.AVATAR_SIZE
    output_format = str(postlogin_settings.AVATAR_FORMAT).upper()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        # Pillow resizes palette and 1-bit images with nearest-neighbour only.
        image = image.convert("RGBA" if has_alpha else "RGB")
    square = _centre_square(image.size)
    # One resampling pass from the centred square of the full picture (no cropped copy).
    thumbnail = image.resize((size, size), Image.Resampling.LANCZOS, box=square, reducing_gap=3.0)
    if has_alpha and output_format == "JPEG":
        # JPEG has no alpha channel: lay the picture on white rather than on black.
        rgba = thumbnail.convert("RGBA")
        thumbnail = Image.new("RGB", rgba.size, "white")
        thumbnail.paste(rgba, mask=rgba.getchannel("A"))
    else:
        thumbnail = thumbnail.convert("RGBA" if has_alpha else "RGB")
    # Pillow carries the source's info (comment, ICC profile, XMP...) through convert and
    # resize, and some encoders write it back: the output holds pixels only.
    thumbnail.info = {}
    out = io.BytesIO()
    thumbnail.save(out, format=output_format, quality=85)
    return out.getvalue()


def _centre_square(dimensions: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = dimensions
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


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
