from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostloginConfig(AppConfig):
    name = "postlogin"
    verbose_name = _("Post-login jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the checks and connects setting_changed.
        from . import checks, conf  # noqa: F401
        from .jobs import add
        from .kinds import avatar, profile_sync, webhook, welcome_email

        # The built-in job kinds, registered here so that every web process and worker knows
        # every kind (a user's own kinds register with @postlogin.jobs.register).
        for kind in (avatar.KIND, welcome_email.KIND, webhook.KIND, profile_sync.KIND):
            add(kind)

        registry = self.apps
        assert registry is not None  # set before ready() is called
        # social-auth users add only "postlogin": it speaks for postlogin.social, and loads it
        # (and social-auth with it) only when social_django is installed.
        if registry.is_installed("social_django"):
            from .social import ready as social_ready

            social_ready()
