from django.conf import settings
from django.db import models


class LoginRecord(models.Model):
    """One row per social login, written by the example's own job kind (see accounts/jobs.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    login_id = models.CharField(max_length=32, unique=True)
    provider = models.CharField(max_length=64)
    logged_in_at = models.DateTimeField()

    class Meta:
        ordering = ["-logged_in_at"]

    def __str__(self) -> str:
        return f"{self.user} via {self.provider} at {self.logged_in_at:%Y-%m-%d %H:%M}"
