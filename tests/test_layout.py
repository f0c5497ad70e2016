"""The import direction of STYLE.md: config <- storage <- pipelines <- crawler, and no two modules importing
each other, counting imports inside functions (a cycle hidden in a function is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["config", "storage", "pipelines", "crawler"]  # each may import only those before it (and itself)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Every module of ours -> the modules of ours it imports anywhere in its body."""
    files = {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from crawler.cli import crawl` imports the submodule when there is one, else the package
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            deps |= {t for t in targets if t in files and t != name}
        graph[name] = deps
    return graph


def test_there_are_modules_to_check() -> None:
    graph = _graph()
    assert {"crawler.cli", "crawler.cli.common", "crawler.daemon.scheduler", "storage.db"} <= set(graph)


def test_imports_go_one_way_between_layers() -> None:
    wrong = [f"{m} imports {d}" for m, deps in _graph().items() for d in deps
             if LAYERS.index(d.split(".")[0]) > LAYERS.index(m.split(".")[0])]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle() -> None:
    graph = _graph()
    # a package's __init__ importing its own submodules (to assemble them) is the one allowed direction;
    # a submodule importing its package back is a cycle
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(d):], d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_cli_commands_share_one_helpers_module() -> None:
    """crawler/cli/: a module per command group over crawler.cli.common; none of them reaches back into the
    package that assembles them."""
    graph = _graph()
    commands = [m for m in graph if m.startswith("crawler.cli.") and m != "crawler.cli.common"]
    assert len(commands) >= 8
    assert all("crawler.cli" not in graph[m] for m in commands)
    assert all("crawler.cli.common" in graph[m] for m in commands)
    assert not {d for d in graph["crawler.cli.common"] if d.startswith("crawler.cli")}
