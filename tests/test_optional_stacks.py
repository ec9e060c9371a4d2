"""Each auth stack is optional: postlogin works with one installed and the other absent, and
the allauth integration says what is missing when it is enabled without allauth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from postlogin.tokens import access_token

ROOT = Path(__file__).resolve().parent.parent

#: Runs in a fresh interpreter: block some packages as if they were not installed (or none),
#: start Django, run the system checks, load the URLconf, import postlogin's modules, then print
#: whether the onboarding page is routed and which stacks (and integrations) were imported.
SCRIPT = """
import sys
for name in filter(None, sys.argv[1].split(",")):
    sys.modules[name] = None
import django
django.setup()
from django.core.management import call_command
from django.urls import NoReverseMatch, get_resolver, reverse
call_command("check", "--fail-level", "WARNING")
get_resolver().resolve("/postlogin/jobs/")
try:
    print(reverse("postlogin:onboarding"))
except NoReverseMatch:
    print("no onboarding page")
import postlogin.admin, postlogin.dispatch, postlogin.jobs, postlogin.tasks, postlogin.tokens
import postlogin.urls, postlogin.views
{extra_imports}
stacks = ("allauth", "social_core", "social_django", "postlogin.allauth", "postlogin.social")
print(sorted(name for name in stacks if sys.modules.get(name)))
"""
SOCIAL = ["postlogin.social", "social_core", "social_django"]
ALLAUTH = ["allauth", "postlogin.allauth"]


@pytest.mark.parametrize(
    ("settings_module", "absent", "extra_imports", "onboarding", "loaded"),
    [
        # The other stack not installed at all ...
        (
            "tests.settings",
            "allauth",
            "import postlogin.social.pipeline",
            "/postlogin/onboarding/",
            SOCIAL,
        ),
        (
            "tests.settings_allauth",
            "social_core,social_django",
            "import postlogin.allauth.forms",
            "no onboarding page",
            ALLAUTH,
        ),
        # ... or installed but not in INSTALLED_APPS: it is not imported either.
        ("tests.settings", "", "", "/postlogin/onboarding/", SOCIAL),
        ("tests.settings_allauth", "", "", "no onboarding page", ALLAUTH),
    ],
)
def test_postlogin_runs_with_one_stack_and_never_imports_the_other(
    settings_module: str, absent: str, extra_imports: str, onboarding: str, loaded: list[str]
) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(extra_imports=extra_imports), absent],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-2:] == [onboarding, str(loaded)]


BASE_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "postlogin"]


def test_enabling_the_allauth_integration_without_allauth_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "allauth", None)  # as if it were not installed
    with (
        pytest.raises(ImproperlyConfigured, match=r"pip install 'django-postlogin\[allauth\]'"),
        override_settings(INSTALLED_APPS=[*BASE_APPS, "postlogin.allauth"]),
    ):
        pass  # pragma: no cover - the app registry refuses to load


def test_enabling_the_allauth_integration_without_allauths_apps_names_them() -> None:
    with (
        pytest.raises(ImproperlyConfigured) as refused,
        override_settings(INSTALLED_APPS=[*BASE_APPS, "allauth", "postlogin.allauth"]),
    ):
        pass  # pragma: no cover - the app registry refuses to load
    assert str(refused.value) == (
        "'postlogin.allauth' needs these apps in INSTALLED_APPS as well: "
        "'allauth.account', 'allauth.socialaccount'"
    )


@pytest.mark.django_db
def test_no_token_without_a_stored_one(user: Any) -> None:
    assert access_token(user.pk, "google") is None
