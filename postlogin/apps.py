from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostloginConfig(AppConfig):
    name = "postlogin"
    verbose_name = _("Post-login jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the checks, connects setting_changed, and registers the built-in job kinds
        # that live outside postlogin.jobs, so that every worker knows every kind.
        from . import checks, conf, sync, webhook_jobs  # noqa: F401
