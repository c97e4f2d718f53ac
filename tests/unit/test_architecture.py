"""The structure drawn from the imports (rooms = modules, arrows = imports, lazy and
type-only imports included) has no cycle, and its arrows point one way:

    entry points (services/api, services/cli, workers/main) -> composition root
    (services/runtime) -> use cases (services/app) -> ports <- adapters (services/adapters)

and `pipelines/` (the domain) imports none of them. `services/settings.py` is plain data
that any layer may read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "services", "workers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (a `from package import module` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = {f"{base}.{alias.name}" for alias in node.names}
            found.update(names & known or {base})  # a module of a package, else the package
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer(module: str) -> str:
    for prefix, name in (
        ("services.api", "api"),
        ("services.cli", "cli"),
        ("services.runtime", "runtime"),
        ("services.app", "app"),
        ("services.adapters", "adapters"),
        ("services.settings", "settings"),
        ("workers.main", "entry"),
        ("workers", "workers"),
        ("pipelines", "domain"),
        ("services", "package"),
    ):
        if module == prefix or module.startswith(prefix + "."):
            return name
    raise AssertionError(f"{module} is in no layer")


ALLOWED = {
    "domain": {"domain"},
    "settings": {"settings", "domain"},
    "package": set(),
    "adapters": {"adapters", "domain", "settings", "services.app.ports"},
    "app": {"app", "domain", "settings"},
    "workers": {"workers", "app", "domain", "settings", "services.runtime.logs"},
    "runtime": {"runtime", "app", "adapters", "workers", "domain", "settings"},
    "api": {"api", "runtime", "app", "domain", "settings"},
    "cli": {"cli", "runtime", "app", "api", "domain", "settings"},
    "entry": {"runtime", "workers", "settings"},
}
"""Which layers (or single modules, by dotted name) a layer's modules may import: adapters
only the ports of the use cases, workers (the task queue and task bodies) the logging set-up
of the runtime."""


def allowed(source: str, target: str) -> bool:
    wanted = ALLOWED[layer(source)]
    return layer(target) in wanted or target in wanted


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_there_is_no_import_cycle() -> None:
    assert cycle_in(graph()) is None


@pytest.mark.parametrize(
    "package",
    [
        "pipelines",
        "services.app",
        "services.adapters",
        "workers",
        "services.api",
        "services.cli",
        "services.runtime",
    ],
)
def test_imports_point_one_way(package: str) -> None:
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph().items()
        if source == package or source.startswith(package + ".")
        for target in targets
        if not allowed(source, target)
    )
    assert wrong == []


def test_only_the_composition_root_imports_adapters_and_workers() -> None:
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if layer(target) in {"adapters", "workers"}
        and layer(source) not in {"adapters", "workers", "runtime", "entry"}
    )
    assert wrong == []
