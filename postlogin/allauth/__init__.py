"""The django-allauth integration: the same post-login jobs for allauth social logins.

Add ``"postlogin.allauth"`` to ``INSTALLED_APPS`` (after allauth's apps and ``"postlogin"``).
Nothing here is imported by ``postlogin`` itself, so projects without allauth never load it.
"""
