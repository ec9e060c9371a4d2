from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("profile/status/", views.profile_status, name="profile-status"),
    path("logout/", LogoutView.as_view(), name="logout"),
]
