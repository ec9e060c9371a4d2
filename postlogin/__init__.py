"""django-postlogin: slow post-login work, off the login request and onto Celery."""

__version__ = "0.1.0"
