from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def done(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"logged in as {request.user.get_username()}")


urlpatterns = [
    path("", include("social_django.urls", namespace="social")),
    path("done/", done),
    path("admin/", admin.site.urls),
    path("postlogin/", include("postlogin.urls")),
]
