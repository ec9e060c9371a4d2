from django.apps import AppConfig


class DevIdpConfig(AppConfig):
    name = "devidp"
    verbose_name = "Local OpenID Connect provider"
    default_auto_field = "django.db.models.BigAutoField"
