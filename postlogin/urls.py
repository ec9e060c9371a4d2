from django.urls import path

from . import views

app_name = "postlogin"

urlpatterns = [
    path("jobs/", views.job_status, name="job-status"),
    path("onboarding/", views.onboarding, name="onboarding"),
]
