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

        registry = self.apps
        assert registry is not None  # set before ready() is called
        # social-auth users add only "postlogin": it speaks for postlogin.social, and loads it
        # (and social-auth with it) only when social_django is installed.
        if registry.is_installed("social_django"):
            from .social import ready as social_ready

            social_ready()
