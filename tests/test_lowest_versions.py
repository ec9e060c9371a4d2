"""requirements/lowest.txt, the constraints of CI's lowest-versions leg (`make pytest-lowest`),
pins every dependency and extra of pyproject.toml to its floor and is current."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lowest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lowest", ROOT / "requirements" / "lowest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lowest_txt_is_generated_from_pyproject() -> None:
    written = (ROOT / "requirements" / "lowest.txt").read_text()
    assert written == lowest().constraints(), "run: make requirements-lowest"


def test_every_dependency_and_extra_is_pinned_to_its_floor() -> None:
    floors = lowest().floors()
    assert floors["requests"] == "2.34", "the pinning hook needs 2.32.3, social-auth-core 2.34"
    assert floors["urllib3"] == "2.2", "HTTPResponse.read1"
    assert floors["django-allauth"] == "65.11", "SIGNUP_FIELDS, OIDC userinfo claims"
    assert {"Django", "celery", "Pillow", "limits", "django-allauth", "redis"} <= set(floors)
    assert {"social-auth-app-django", "phonenumbers"} <= set(floors)


def test_the_lowest_leg_installs_the_test_stack_under_those_constraints() -> None:
    lines = (ROOT / "requirements" / "test-lowest.txt").read_text().splitlines()
    assert "-r test.in" in lines
    assert "-c lowest.txt" in lines
    assert "make pytest-lowest" in (ROOT / ".ci" / "run").read_text()


def test_a_dependency_without_a_floor_is_an_error(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["Django<6"]\n')
    with pytest.raises(ValueError, match="floor"):
        lowest().floors(pyproject)
