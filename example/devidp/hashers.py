from django.contrib.auth.hashers import PBKDF2PasswordHasher


class DemoPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Far fewer rounds than Django's default, for this demo-only provider.

    django-oauth-toolkit hashes client secrets too, so with the default (over a million
    rounds) every token exchange spends half a second in the provider, which would hide the
    time the login itself takes. Never use this for real passwords.
    """

    algorithm = "pbkdf2_sha256_demo"
    iterations = 1_000
