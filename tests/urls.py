from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def done(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"logged in as {request.user.get_username()}")


urlpatterns = [
    path("done/", done),
    path("admin/", admin.site.urls),
    path("postlogin/", include("postlogin.urls")),
]
# Each settings module installs one auth stack or both (tests/settings*.py).
if apps.is_installed("social_django"):
    urlpatterns.append(path("", include("social_django.urls", namespace="social")))
if apps.is_installed("allauth.account"):
    urlpatterns.append(path("accounts/", include("allauth.urls")))
