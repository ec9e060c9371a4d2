"""postlogin's modules import each other without a cycle, and the ledger imports only what is
below it.

The graph is read from the source with :mod:`ast`: every ``import`` and ``from ... import``, at
module level and inside functions alike (an import inside a function is a dependency all the
same; it only moves the cycle from start-up to the first call). ``from package import name``
counts as an import of the submodule when ``name`` is one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import postlogin

PACKAGE = Path(postlogin.__file__).parent
#: What the ledger may import of postlogin: the modules it changes rows of and reads settings,
#: codes and loggers from, nothing that publishes, plans or runs jobs.
LEDGER_MAY_IMPORT = {
    "postlogin.models",
    "postlogin.conf",
    "postlogin.error_codes",
    "postlogin.scrub",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The postlogin modules that module ``name`` (at ``path``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        yield from (target for target in targets if target in known and target != name)


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in order, the first repeated last), or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "closed"
        trail.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert "postlogin.models" in graph["postlogin.ledger"]
    assert "postlogin.ledger" in graph["postlogin.runner"]


def test_find_cycle_finds_a_cycle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_postlogin_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_ledger_imports_nothing_above_it() -> None:
    above = import_graph()["postlogin.ledger"] - LEDGER_MAY_IMPORT
    assert not above, f"postlogin.ledger imports {sorted(above)}"
