from django.apps import apps
from django.urls import path

from . import views

app_name = "postlogin"

urlpatterns = [
    path("jobs/", views.job_status, name="job-status"),
]
# The social-auth gate's page; projects without social-auth never load its code.
if apps.is_installed("social_django"):
    from .social.views import onboarding

    urlpatterns.append(path("onboarding/", onboarding, name="onboarding"))
