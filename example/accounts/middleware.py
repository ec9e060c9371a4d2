import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class LoginTimingMiddleware:
    """Remember how long the request that signed the user in took, to show it on the profile.

    That is the provider's callback (``/complete/<backend>/``, allauth's ``.../login/callback/``),
    or the form that finishes a signup when the login waits for one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        if request.user.is_authenticated:
            request.session["login_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return response
