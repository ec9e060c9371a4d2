"""The documentation says what the code does: settings, check ids, and its Python blocks run.

Every ```python block in docs/ is executed, unless the line right before it is an
``<!-- not-tested: why -->`` comment. A block that defines settings (UPPERCASE names) is then
applied with ``override_settings``, and postlogin's checks must find nothing wrong with it.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks as run_all_checks
from django.test import override_settings

from postlogin import jobs
from postlogin.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<language>\S*)\n(?P<code>.*?)^(?P=indent)```$", re.M | re.S
)
NOT_TESTED = re.compile(r"^ *<!-- not-tested: \S.* -->$", re.M)


def run_checks(**kwargs: Any) -> list[Any]:
    """Django's check framework, less what settings.SILENCED_SYSTEM_CHECKS silences (as
    `manage.py check` shows them)."""
    return [message for message in run_all_checks(**kwargs) if not message.is_silenced()]


@dataclass(frozen=True)
class Block:
    where: str
    language: str
    code: str
    marked: bool


def blocks() -> list[Block]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            previous = text[: match.start()].rstrip("\n").rpartition("\n")[2]
            found.append(
                Block(
                    where=f"{path.name}:{line}",
                    language=match["language"],
                    code=textwrap.dedent(match["code"]),
                    marked=bool(NOT_TESTED.match(previous)),
                )
            )
    return found


PYTHON = [block for block in blocks() if block.language == "python"]


def test_every_code_block_names_its_language() -> None:
    assert [block.where for block in blocks() if not block.language] == []


def test_only_python_blocks_are_marked_not_tested() -> None:
    # A marker before anything else is a mistake: only Python blocks are run.
    assert [block.where for block in blocks() if block.marked and block.language != "python"] == []
    markers = sum(len(NOT_TESTED.findall(p.read_text())) for p in DOCS.glob("*.md"))
    assert markers == sum(block.marked for block in PYTHON), "a marker not right before a block"


def test_most_python_blocks_are_tested() -> None:
    # Guards the extraction itself: a broken pattern would otherwise test nothing.
    assert sum(not block.marked for block in PYTHON) >= 8


@pytest.mark.parametrize(
    "block", [b for b in PYTHON if not b.marked], ids=lambda block: block.where
)
def test_python_block_runs(block: Block) -> None:
    namespace: dict[str, Any] = {"__name__": "docs_block"}
    kinds = set(jobs.registered_kinds())
    try:
        exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102
    finally:
        for kind in set(jobs.registered_kinds()) - kinds:
            jobs.unregister(kind)
    settings = {name: value for name, value in namespace.items() if name.isupper()}
    if "INSTALLED_APPS" in settings:
        # Written as [..., "postlogin"]: the project's own apps are elided.
        assert "postlogin" in settings.pop("INSTALLED_APPS")
    if settings:
        with override_settings(**settings):
            assert run_checks(tags=["postlogin"]) == []


def test_every_setting_is_in_the_settings_reference_with_its_default() -> None:
    reference = (DOCS / "settings.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]+)`", reference, re.M))
    documented = {key: ast.literal_eval(value) for key, value in rows.items() if key in DEFAULTS}
    assert sorted(documented) == sorted(DEFAULTS)
    for key, default in DEFAULTS.items():
        expected = list(default) if isinstance(default, tuple) else default
        value = documented[key]
        assert (list(value) if isinstance(value, tuple) else value) == expected, key


def test_every_check_id_is_documented() -> None:
    package = ROOT / "postlogin"
    modules = [*(package / "checks").glob("*.py"), *package.glob("*/checks.py")]
    source = "".join(path.read_text() for path in modules)
    in_code = set(re.findall(r'id="(postlogin\.[EW]\d{3})"', source))
    reference = (DOCS / "checks.md").read_text()
    assert in_code == set(re.findall(r"^\| `(postlogin\.[EW]\d{3})` \|", reference, re.M))
    assert in_code == set(re.findall(r"^## (postlogin\.[EW]\d{3}):", reference, re.M))
