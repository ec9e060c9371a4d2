from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostloginConfig(AppConfig):
    name = "postlogin"
    verbose_name = _("Post-login jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf  # noqa: F401  (registers the checks; connects setting_changed)
