from tests.urls import urlpatterns

__all__ = ["handler500", "urlpatterns"]

handler500 = "postlogin.views.server_error"
