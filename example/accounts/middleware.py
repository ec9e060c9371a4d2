import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class LoginTimingMiddleware:
    """Remember how long the social login's callback request took, to show it on the profile."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/complete/"):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        if request.user.is_authenticated:
            request.session["login_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return response
