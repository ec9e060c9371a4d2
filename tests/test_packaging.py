"""What users install: ``python -m build``, then the wheel in a fresh virtual environment.

The fresh environment gets the wheel and social-auth only (no allauth, no Redis client), at the
versions of the environment running these tests, and a settings module with nothing but
postlogin and its pipeline step; Django's ``check`` and ``migrate`` must then work there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pytest

import postlogin

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "postlogin"

MINIMAL_SETTINGS = """
SECRET_KEY = "packaging-test"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "social_django",
    "postlogin",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    "postlogin.social.pipeline.schedule_post_login_tasks",
)
"""


def run(
    command: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def package_files() -> set[str]:
    """Every file of the package in the source tree, as paths inside a wheel."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    return out


def only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def test_the_wheel_holds_exactly_the_package(dist: Path) -> None:
    wheel = only(dist, f"django_postlogin-{postlogin.__version__}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"django_postlogin-{postlogin.__version__}.dist-info"
        wheel_metadata = archive.read(f"{info}/METADATA").decode()
    shipped = {name for name in names if not name.startswith(f"{info}/")}
    assert shipped == package_files()
    # Spelled out, so that a packaging change that drops them all at once is still caught.
    assert {
        "postlogin/py.typed",
        "postlogin/migrations/0001_initial.py",
        "postlogin/management/commands/postlogin.py",
        "postlogin/templates/postlogin/email/welcome.html",
    } <= shipped
    assert f"{info}/licenses/LICENSE" in names
    assert f"\nVersion: {postlogin.__version__}\n" in wheel_metadata
    assert "\nLicense-Expression: BSD-3-Clause\n" in wheel_metadata


def test_the_sdist_holds_the_package_docs_and_deployment_files(dist: Path) -> None:
    sdist = only(dist, f"django_postlogin-{postlogin.__version__}.tar.gz")
    prefix = f"django_postlogin-{postlogin.__version__}/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    docs = {path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").glob("*.md")}
    deploy = {
        path.relative_to(ROOT).as_posix() for path in (ROOT / "deploy").rglob("*") if path.is_file()
    }
    assert package_files() | docs | deploy <= names
    assert {"CHANGELOG.md", "LICENSE", "README.md", "SECURITY.md", "pyproject.toml"} <= names
    assert not any(name.startswith("tests/") for name in names)


def test_the_changelog_names_the_package_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert first is not None
    assert first.group(1) == postlogin.__version__


def pinned_versions() -> str:
    """This environment's versions, as pip constraints (they do not install anything)."""
    pins = {
        dist.metadata["Name"].lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "django-postlogin"
    }
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def test_the_wheel_works_with_social_auth_alone(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python, django_admin = venv / "bin" / "python", venv / "bin" / "django-admin"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(pinned_versions())
    wheel = only(dist, "*.whl")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            constraints,
            wheel,
            "social-auth-app-django",
        ]
    )

    probe = "import importlib.util as u; print([m for m in ('redis', 'allauth') if u.find_spec(m)])"
    assert run([python, "-c", probe]).stdout.strip() == "[]", "optional stacks were installed"

    project = tmp_path / "project"
    project.mkdir()
    (project / "minimal_settings.py").write_text(MINIMAL_SETTINGS)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHON"))},
        "DJANGO_SETTINGS_MODULE": "minimal_settings",
        "PYTHONPATH": str(project),
    }
    check = run([django_admin, "check"], cwd=project, env=env)
    output = check.stdout + check.stderr
    # The checks ship with the wheel and run on a project that has not configured Celery yet:
    # warnings, not a crash, and nothing about the pipeline, which is right.
    assert "postlogin.W007" in output
    assert "postlogin.W004" in output
    assert not re.search(r"postlogin\.(E\d+|W00[12])", output), output
    migrate = run([django_admin, "migrate", "--noinput"], cwd=project, env=env)
    assert "Applying postlogin.0001_initial... OK" in migrate.stdout
