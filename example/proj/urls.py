from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

# The social login stack's own URLs: social-auth's /login/<backend>/ and /complete/<backend>/,
# or allauth's /accounts/... (DEMO_AUTH=allauth).
auth_urls = (
    path("accounts/", include("allauth.urls"))
    if settings.DEMO_AUTH == "allauth"
    else path("", include("social_django.urls", namespace="social"))
)

urlpatterns = [
    path("admin/", admin.site.urls),
    auth_urls,
    path("postlogin/", include("postlogin.urls")),
    path("", include("accounts.urls")),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]

# While the database is unavailable (a restart, a failover) pages answer 503 with Retry-After.
handler500 = "postlogin.views.server_error"
