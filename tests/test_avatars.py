"""Avatar images: what is accepted, what is refused and why, and what is stored."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms

from postlogin.avatars import AvatarRejected, fetch_avatar_image, normalise_image

from .helpers import http_server
from .settings import TEST_POSTLOGIN

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def png_bomb(width: int, height: int, rows: int = 16) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` 8-bit RGB pixels, with ``rows`` rows of
    zeros compressed behind it: a few kilobytes that a naive decoder turns into gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\0" * (1 + width * 3)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel: Any, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


_MEASURE = """
import json, resource, sys
import django
django.setup()
from postlogin.avatars import AvatarRejected, normalise_image

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field + ":"))

data = open(sys.argv[1], "rb").read()
# Cap the address space so that a decoder allocating gigabytes fails here, at once, instead
# of taking the machine's memory.
limit = (status("VmSize") + 512 * 1024) * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = status("VmPeak")
try:
    normalise_image(data)
    outcome = "accepted"
except AvatarRejected as exc:
    outcome = exc.reason
except MemoryError:
    outcome = "MemoryError"
# Peak *virtual* memory: a decoder's buffer counts even where its pages were never touched.
print(json.dumps({"outcome": outcome, "peak_growth_kib": status("VmPeak") - before}))
"""


def normalise_in_subprocess(data: bytes, tmp_path: Path) -> dict[str, Any]:
    """``normalise_image(data)`` in a fresh process: its outcome and peak memory growth."""
    source = tmp_path / "picture.bin"
    source.write_bytes(data)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(source)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def test_a_50000_by_50000_png_of_a_few_kilobytes_is_refused_in_bounded_memory(
    tmp_path: Path,
) -> None:
    bomb = png_bomb(50_000, 50_000)
    assert len(bomb) < 8 * 1024
    measured = normalise_in_subprocess(bomb, tmp_path)
    assert measured["outcome"] == "too_many_pixels"
    # Decoding it would take 7.5 GB (2.5 gigapixels of RGB).
    assert measured["peak_growth_kib"] < 16 * 1024, measured


def test_pixels_are_counted_before_decoding(tmp_path: Path) -> None:
    # 64 megapixels: under Pillow's own bomb limit, over AVATAR_MAX_PIXELS (16 million).
    # Decoding it would take 192 MB; the refusal must come from the header alone.
    measured = normalise_in_subprocess(png_bomb(8_000, 8_000), tmp_path)
    assert measured["outcome"] == "too_many_pixels"
    assert measured["peak_growth_kib"] < 16 * 1024, measured


def test_the_pixel_limit_names_the_setting(settings: Any, png_bytes: Callable[..., bytes]) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "AVATAR_MAX_PIXELS": 100}
    with pytest.raises(AvatarRejected, match=r"11x10 is over AVATAR_MAX_PIXELS \(100\)") as info:
        normalise_image(png_bytes((11, 10)))
    assert info.value.reason == "too_many_pixels"


_PHOTO = encoded(Image.radial_gradient("L").convert("RGB"), "JPEG", quality=95)
#: A real JPEG cut in half: its header is fine, its pixels stop midway.
TRUNCATED_JPEG = _PHOTO[: len(_PHOTO) // 2]


def test_a_truncated_jpeg_is_refused() -> None:
    with pytest.raises(AvatarRejected) as info:
        normalise_image(TRUNCATED_JPEG)
    assert info.value.reason == "corrupt_image"


SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
  <image href="http://169.254.169.254/latest/meta-data/" width="64" height="64"/>
</svg>"""
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"


@pytest.mark.parametrize(
    "data",
    [SVG, HTML, b"", b"GIF89a", b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n"],
    ids=["svg", "html", "empty", "gif-signature-only", "png-signature-only", "pdf"],
)
def test_anything_but_a_raster_picture_is_refused(data: bytes) -> None:
    with pytest.raises(AvatarRejected) as info:
        normalise_image(data)
    assert info.value.reason == "not_an_image"


def test_formats_pillow_could_read_but_we_do_not_accept_are_refused() -> None:
    for fmt in ("BMP", "TIFF", "ICO", "PPM"):
        with pytest.raises(AvatarRejected) as info:
            normalise_image(encoded(Image.new("RGB", (8, 8)), fmt))
        assert info.value.reason == "not_an_image", fmt


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_each_accepted_format_becomes_a_square_thumbnail(fmt: str) -> None:
    source = Image.new("RGB", (300, 200), (200, 30, 30))
    with decoded(normalise_image(encoded(source, fmt))) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (256, 256))
        assert close_to(thumbnail.convert("RGB").getpixel((128, 128)), (200, 30, 30))


def test_size_and_format_come_from_the_settings(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "AVATAR_SIZE": 64, "AVATAR_FORMAT": "jpeg"}
    with decoded(normalise_image(encoded(Image.new("RGB", (90, 120)), "PNG"))) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (64, 64))


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue", "green")]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    with decoded(normalise_image(gif)) as thumbnail:
        assert close_to(thumbnail.convert("RGB").getpixel((128, 128)), (255, 0, 0))


def test_transparency_is_kept_or_laid_on_white_for_jpeg(settings: Any) -> None:
    clear = encoded(Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "PNG")
    with decoded(normalise_image(clear)) as thumbnail:
        assert thumbnail.mode == "RGBA"
        assert thumbnail.getchannel("A").getpixel((10, 10)) == 0
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "AVATAR_FORMAT": "JPEG"}
    with decoded(normalise_image(clear)) as thumbnail:
        assert close_to(thumbnail.getpixel((10, 10)), (255, 255, 255), tolerance=5)


def test_the_exif_orientation_is_applied_before_the_metadata_goes() -> None:
    # Stored upside down (orientation 3: rotate 180): red on the left, blue on the right.
    photo = Image.new("RGB", (40, 20), "red")
    photo.paste(Image.new("RGB", (20, 20), "blue"), (20, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 3
    with decoded(normalise_image(encoded(photo, "JPEG", exif=exif, quality=95))) as thumbnail:
        rgb = thumbnail.convert("RGB")
        assert close_to(rgb.getpixel((30, 128)), (0, 0, 255)), "blue is on the left"
        assert close_to(rgb.getpixel((225, 128)), (255, 0, 0)), "red is on the right"


MARKERS = [b"SecretCam", b"secret-location", b"private-comment", b"Exif", b"ICC_PROFILE"]


def private_photo(fmt: str) -> bytes:
    """A picture carrying a camera name, GPS position, XMP, a comment and an ICC profile."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"<rdf:Description>secret-location</rdf:Description></x:xmpmeta>"
    )
    image = Image.new("RGB", (64, 64), "white")
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_text("Comment", "private-comment")
        text.add_text("XML:com.adobe.xmp", xmp.decode())
        return encoded(image, "PNG", exif=exif, icc_profile=icc, pnginfo=text)
    return encoded(image, fmt, exif=exif, icc_profile=icc, xmp=xmp, comment=b"private-comment")


@pytest.mark.parametrize("source_format", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("output_format", ["WEBP", "JPEG", "PNG"])
def test_metadata_is_stripped(settings: Any, source_format: str, output_format: str) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "AVATAR_FORMAT": output_format}
    source = private_photo(source_format)
    assert any(marker in source for marker in MARKERS[:3])
    normalised = normalise_image(source)
    assert [marker for marker in MARKERS if marker in normalised] == []
    with decoded(normalised) as thumbnail:
        assert not thumbnail.getexif()
        assert "icc_profile" not in thumbnail.info


def serve(body: bytes, content_type: str, **headers: str) -> Any:
    return http_server(lambda path, n: (200, {"Content-Type": content_type, **headers}, body))


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (png_bomb(50_000, 50_000), "image/png", "too_many_pixels"),
        (TRUNCATED_JPEG, "image/jpeg", "corrupt_image"),
        (SVG, "image/svg+xml", "not_an_image"),
        (SVG, "image/png", "not_an_image"),
        (HTML, "image/png", "not_an_image"),
        (HTML, "text/html; charset=utf-8", "not_an_image"),
        (b"x" * (2 * MiB), "image/png", "too_large"),
    ],
    ids=[
        "png bomb",
        "truncated jpeg",
        "svg",
        "svg as image/png",
        "html as image/png",
        "html",
        "oversize",
    ],
)
def test_refused_pictures_over_the_network(
    settings: Any, body: bytes, content_type: str, reason: str
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "AVATAR_MAX_BYTES": MiB}
    with serve(body, content_type) as server, pytest.raises(AvatarRejected) as info:
        fetch_avatar_image(server.url("/avatar"))
    assert info.value.reason == reason, info.value


def test_a_picture_over_the_network_is_normalised(png_bytes: Callable[..., bytes]) -> None:
    with serve(png_bytes((120, 80)), "image/png") as server:
        thumbnail = fetch_avatar_image(server.url("/avatar"))
    with decoded(thumbnail) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))
