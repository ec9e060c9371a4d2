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

from postlogin.tokens import access_token_for

ROOT = Path(__file__).resolve().parent.parent

#: Runs in a fresh interpreter: block some packages as if they were not installed, start
#: Django, run the system checks, import postlogin's modules, print the stacks that loaded.
SCRIPT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
import django
django.setup()
from django.core.management import call_command
call_command("check", "--fail-level", "WARNING")
import postlogin.admin, postlogin.dispatch, postlogin.jobs, postlogin.tasks, postlogin.tokens
import postlogin.urls, postlogin.views
{extra_imports}
stacks = {{"allauth", "social_core", "social_django"}}
print(sorted(stacks & {{name.split(".")[0] for name in sys.modules if sys.modules[name]}}))
"""


@pytest.mark.parametrize(
    ("settings_module", "absent", "extra_imports", "loaded"),
    [
        (
            "tests.settings",
            "allauth",
            "import postlogin.pipeline",
            ["social_core", "social_django"],
        ),
        (
            "tests.settings_allauth",
            "social_core,social_django",
            "import postlogin.allauth.forms",
            ["allauth"],
        ),
    ],
)
def test_postlogin_runs_with_one_stack_and_the_other_one_absent(
    settings_module: str, absent: str, extra_imports: str, loaded: list[str]
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
    assert result.stdout.splitlines()[-1] == str(loaded)


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
def test_no_token_without_allauth_or_a_stored_one(user: Any) -> None:
    assert access_token_for(user.pk, "google") is None
