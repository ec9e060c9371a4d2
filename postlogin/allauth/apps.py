from __future__ import annotations

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

#: Apps the integration needs next to it: allauth's own, and postlogin's (the Job model).
REQUIRED_APPS = ("postlogin", "allauth", "allauth.account", "allauth.socialaccount")


class PostloginAllauthConfig(AppConfig):
    name = "postlogin.allauth"
    label = "postlogin_allauth"
    verbose_name = _("Post-login jobs for django-allauth")

    def ready(self) -> None:
        try:
            import allauth.socialaccount  # noqa: F401
        except ImportError as exc:
            raise ImproperlyConfigured(
                "'postlogin.allauth' is in INSTALLED_APPS but django-allauth is not installed: "
                "pip install 'django-postlogin[allauth]'"
            ) from exc
        registry = self.apps
        assert registry is not None  # set before ready() is called
        missing = [app for app in REQUIRED_APPS if not registry.is_installed(app)]
        if missing:
            raise ImproperlyConfigured(
                "'postlogin.allauth' needs these apps in INSTALLED_APPS as well: "
                + ", ".join(repr(app) for app in missing)
            )
        from ..accounts import register_source
        from . import checks, receivers, sync  # noqa: F401  (checks register themselves)

        receivers.connect()
        register_source("allauth", sync.SOURCE, app="allauth.socialaccount")
