"""The documentation says what the code does: settings, check ids, and its Python blocks run.

Every ```python block in docs/ is executed, unless the line right before it is an
``<!-- not-tested: why -->`` comment. A block after ``<!-- continues the example above -->``
runs after the blocks it continues, in their namespace. A block that defines settings
(UPPERCASE names) is then applied with ``override_settings``, and postlogin's checks must find
nothing wrong with it. A provider contract a block defines (a ``ProviderContract`` subclass)
is run, while the providers the blocks registered are served. A ```json block after
``<!-- payload: tests/payloads/<module>.py NAME [NAME...] -->`` shows part of those fixtures:
each of its keys has the value the named fixtures (merged) give it.
"""

from __future__ import annotations

import ast
import html
import importlib
import json
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks as run_all_checks
from django.db import transaction
from django.test import override_settings

from postlogin import jobs, providers
from postlogin.conf import DEFAULTS
from postlogin.testing import ProviderContract

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<language>\S*)\n(?P<code>.*?)^(?P=indent)```$", re.M | re.S
)
NOT_TESTED = re.compile(r"^ *<!-- not-tested: \S.* -->$", re.M)
CONTINUES = re.compile(r"^ *<!-- continues the example above -->$")
PAYLOAD = re.compile(
    r"^ *<!-- payload: tests/payloads/(?P<module>\w+)\.py (?P<names>\w+( \w+)*) -->$"
)


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
    #: The code it runs after (the blocks it continues), or "".
    before: str = ""
    #: The line right before the block.
    previous: str = ""


def blocks() -> list[Block]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        chain = ""  # the code a continuing block runs after
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            previous = text[: match.start()].rstrip("\n").rpartition("\n")[2]
            code = textwrap.dedent(match["code"])
            continues = bool(CONTINUES.match(previous))
            found.append(
                Block(
                    where=f"{path.name}:{line}",
                    language=match["language"],
                    code=code,
                    marked=bool(NOT_TESTED.match(previous)),
                    before=chain if continues else "",
                    previous=previous,
                )
            )
            if match["language"] == "python":
                chain = (chain if continues else "") + code
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


def test_continuing_blocks_continue_a_python_block() -> None:
    continuing = [block for block in blocks() if CONTINUES.match(block.previous)]
    assert continuing, "no block continues another: the pattern finds nothing"
    assert [block.where for block in continuing if not block.before] == []


def run_contracts(namespace: dict[str, Any]) -> list[str]:
    """Run every check of each provider contract defined in ``namespace``; their names."""
    ran = []
    for value in list(namespace.values()):
        if isinstance(value, type) and issubclass(value, ProviderContract):
            if value is ProviderContract:
                continue
            contract = value()
            for name in sorted(dir(value)):
                if name.startswith("test_"):
                    getattr(contract, name)()
                    ran.append(f"{value.__name__}.{name}")
    return ran


@contextmanager
def block_run(block: Block) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Run ``block`` after the blocks it continues; its namespace, and the contract checks run.
    Job kinds and providers it registers are served until the ``with`` block ends."""
    namespace: dict[str, Any] = {"__name__": "docs_block"}
    kinds = set(jobs.registered_kinds())
    served = set(providers.registered())
    try:
        if block.before:
            exec(compile(block.before, f"{block.where} (before)", "exec"), namespace)  # noqa: S102
        exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102
        yield namespace, run_contracts(namespace)
    finally:
        for kind in set(jobs.registered_kinds()) - kinds:
            jobs.unregister(kind)
        for cls in set(providers.registered()) - served:
            providers.unregister(cls.id)


def run_block(block: Block) -> tuple[dict[str, Any], list[str]]:
    """:func:`block_run`, the kinds and providers it registered gone once it returns."""
    with block_run(block) as ran:
        return ran


def block_settings(namespace: dict[str, Any]) -> dict[str, Any]:
    """The settings a block defines (its UPPERCASE names)."""
    settings = {name: value for name, value in namespace.items() if name.isupper()}
    if "INSTALLED_APPS" in settings:
        # Written as [..., "postlogin"]: the project's own apps are elided.
        assert "postlogin" in settings.pop("INSTALLED_APPS")
    return settings


@pytest.mark.parametrize(
    "block", [b for b in PYTHON if not b.marked], ids=lambda block: block.where
)
def test_python_block_runs(block: Block) -> None:
    # The checks run while the kinds the blocks register are registered, as after ready().
    with block_run(block) as (namespace, _):
        settings = block_settings(namespace)
        if settings:
            with override_settings(**settings):
                assert run_checks(tags=["postlogin"]) == []


@pytest.mark.django_db
def test_the_job_kind_example_passes_its_own_tests() -> None:
    (block,) = [b for b in PYTHON if "def test_the_first_login_creates_one_contact" in b.code]
    with block_run(block) as (namespace, _):
        tests = [value for name, value in namespace.items() if name.startswith("test_")]
        assert len(tests) == 3
        assert jobs.get_kind("crm_contact") is not None
        with override_settings(**block_settings(namespace)):
            for test in tests:
                with transaction.atomic():
                    test()
                    transaction.set_rollback(True)
    assert jobs.get_kind("crm_contact") is None, "registered while the example ran, no longer"


def test_the_provider_example_registers_and_passes_the_contract() -> None:
    (block,) = [b for b in PYTHON if "class TestTwitch(ProviderContract)" in b.code]
    namespace, ran = run_block(block)
    shared = [name for name in dir(ProviderContract) if name.startswith("test_")]
    assert sorted(ran) == sorted(f"TestTwitch.{name}" for name in shared)
    # Served while the example ran, and no longer.
    assert namespace["Twitch"].id == "twitch"
    assert providers.for_backend("twitch").id == "generic"


def test_the_provider_example_uses_the_real_fixtures() -> None:
    (block,) = [b for b in PYTHON if "TWITCH_HELIX_USER = {" in b.code]
    namespace, _ = run_block(block)
    fixtures = importlib.import_module("tests.payloads.twitch")
    shown = {name: value for name, value in namespace.items() if name.startswith("TWITCH_")}
    assert shown == {name: getattr(fixtures, name) for name in shown}
    assert len(shown) == 4


def payload_blocks() -> list[tuple[Block, re.Match[str]]]:
    return [(b, m) for b in blocks() if (m := PAYLOAD.match(b.previous))]


def test_payload_blocks_are_json() -> None:
    assert [b.where for b, _ in payload_blocks() if b.language != "json"] == []
    assert len(payload_blocks()) >= 3


@pytest.mark.parametrize(
    ("block", "marker"), payload_blocks(), ids=lambda value: getattr(value, "where", "")
)
def test_payload_blocks_show_the_fixtures(block: Block, marker: re.Match[str]) -> None:
    fixtures = importlib.import_module(f"tests.payloads.{marker['module']}")
    merged: dict[str, Any] = {}
    for name in marker["names"].split():
        merged.update(getattr(fixtures, name))
    shown = json.loads(block.code)
    assert shown == {key: merged[key] for key in shown if key in merged}


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


DIAGRAM = ROOT / "docs" / "images" / "login-path.dot"


def _diagram_lines() -> list[str]:
    """Every line of every label in the diagram's source."""
    labels = re.findall(r'label="([^"]*)"', DIAGRAM.read_text())
    return [line for label in labels for line in label.split("\\n")]


def test_every_module_the_login_path_diagram_names_exists() -> None:
    named = {word for line in _diagram_lines() for word in re.findall(r"postlogin(?:\.\w+)+", line)}
    assert named, "the diagram names the modules of each hop"
    for module in named:
        path = ROOT.joinpath(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module


def test_the_login_path_picture_is_in_step_with_its_source() -> None:
    svg = DIAGRAM.with_suffix(".svg").read_text()
    texts = {html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    assert set(_diagram_lines()) == texts, "re-render: dot -Tsvg login-path.dot -o login-path.svg"
