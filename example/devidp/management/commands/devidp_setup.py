"""Create the demo users and the demo OpenID Connect client; safe to run again."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    help = "Create the local identity provider's demo users and client."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        for username, full_name, email in settings.DEVIDP_USERS:
            first, _, last = full_name.partition(" ")
            user, _ = users.objects.update_or_create(
                username=username,
                defaults={"email": email, "first_name": first, "last_name": last},
            )
            user.set_password(settings.DEVIDP_PASSWORD)
            user.save()
        application_model = get_application_model()
        application = application_model.objects.filter(
            client_id=settings.DEVIDP_CLIENT_ID
        ).first() or application_model(client_id=settings.DEVIDP_CLIENT_ID)
        application.name = "django-postlogin demo"
        application.client_type = application_model.CLIENT_CONFIDENTIAL
        application.authorization_grant_type = application_model.GRANT_AUTHORIZATION_CODE
        application.redirect_uris = settings.DEVIDP_REDIRECT_URIS
        application.algorithm = application_model.RS256_ALGORITHM
        application.skip_authorization = True
        # Hashed on save: the plaintext stays in the app's settings (OIDC_CLIENT_SECRET).
        application.client_secret = settings.DEVIDP_CLIENT_SECRET
        application.save()
        self.stdout.write(f"devidp: client {application.client_id!r} and demo users ready")
