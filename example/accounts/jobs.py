"""A custom post-login job kind: record each login (a stand-in for analytics or CRM calls)."""

from django.utils import timezone

from postlogin.events import LoginEvent
from postlogin.jobs import JobSpec, register
from postlogin.models import Job

from .models import LoginRecord


def plan_login_history(event: LoginEvent) -> JobSpec:
    # One job per login: the login's id is the idempotency key.
    return JobSpec(key=event.login_id, payload={"provider": event.provider})


@register("login_history", plan=plan_login_history)
def login_history(job: Job) -> None:
    # Idempotent by state: a second run for the same login finds its row and does nothing.
    LoginRecord.objects.get_or_create(
        login_id=job.key,
        defaults={
            "user_id": job.user_id,
            "provider": job.payload.get("provider", ""),
            "logged_in_at": job.created_at or timezone.now(),
        },
    )
