import io
import random
import time
import zlib

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from PIL import Image, ImageDraw


def avatar(request: HttpRequest, username: str) -> HttpResponse:
    """A picture per user, slow and flaky on purpose (DEVIDP_AVATAR_DELAY, _FAIL_RATE)."""
    if not username.isalnum() or len(username) > 40:
        raise Http404
    time.sleep(settings.DEVIDP_AVATAR_DELAY)
    if random.random() < settings.DEVIDP_AVATAR_FAIL_RATE:
        return HttpResponse(
            "avatar host is having a bad day", status=503, content_type="text/plain"
        )
    return HttpResponse(picture(username), content_type="image/png")


def picture(username: str) -> bytes:
    """A 256 px circle of a colour derived from the name, with the initial on it."""
    hue = zlib.crc32(username.encode()) % 360
    image = Image.new("HSV", (256, 256), (int(hue / 360 * 255), 140, 210)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((48, 48, 208, 208), fill=(255, 255, 255))
    draw.text((128, 128), username[:1].upper(), fill=(40, 40, 40), anchor="mm", font_size=96)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
