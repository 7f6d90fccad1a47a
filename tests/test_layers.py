"""The package's layout is its pipeline: each stage imports only the stages before it.

A module may import from its own stage (without a cycle) and from any earlier stage, never from a
later one, at run time or for type checking alike. The order is the one the README's "Design"
section and docs/architecture.md draw.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mentorrules"

# Earliest first. A top-level module is a stage of its own; a folder is one stage.
STAGES: tuple[tuple[str, ...], ...] = (
    ("model", "errors", "located", "hookspecs", "generated"),  # leaves: values, problems, located YAML,
                                                             # the pack contract, running generated code
    ("packs",),                                   # discovery of packs, the core pack, built-in functions
    ("loading",),                                 # rule files -> a checked rule book
    ("inputs",),                                  # data files -> typed rows
    ("checking",),                                # rule book + rows -> decisions
    ("sessions",),                                # facts streamed one at a time -> findings
    ("engine",),                                  # the library's façade
    ("reports", "history"),                       # a report -> files people read; runs kept over time
    ("authoring",),                               # test, lint, docs, new-pack, diff
    ("serving",),                                 # the HTTP service
    ("cli", "__main__"),                          # the only module that prints
)
RANK = {name: rank for rank, names in enumerate(STAGES) for name in names}


def _stage(module: str) -> str:
    """``mentorrules.checking.batch`` -> ``checking``; ``mentorrules`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = [part for part in relative.parts if part != "__init__"]
        found[".".join(["mentorrules", *parts])] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """Every mentorrules module this one imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    modules = _modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("mentorrules"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mentorrules"):
            for alias in node.names:  # `from mentorrules.checking import batch` imports a module
                candidate = f"{node.module}.{alias.name}"
                names.add(candidate if candidate in modules else node.module)
    names.discard(module)
    return names


MODULES = _modules()
IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_stage_is_known() -> None:
    unknown = {_stage(module) for module in MODULES} - RANK.keys() - {"__init__"}
    assert not unknown, f"add {sorted(unknown)} to STAGES, in pipeline order"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) != "__init__"))
def test_imports_only_earlier_stages(module: str) -> None:
    rank = RANK[_stage(module)]
    later = sorted(name for name in IMPORTS[module]
                   if name != "mentorrules" and RANK[_stage(name)] > rank)
    assert not later, f"{module} (stage {_stage(module)}) imports later stages: {later}"


def test_no_import_cycles() -> None:
    """Within a stage, modules import each other without a cycle (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in sorted(IMPORTS.get(module, ())):
            if name not in MODULES or name == "mentorrules":
                continue
            if state.get(name) == 1:
                cycle = [*path[path.index(name):], name] if name in path else [module, name]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if name not in state:
                visit(name, [*path, name])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])


def test_only_the_cli_prints() -> None:
    """The library never writes to the terminal: ``print`` is the CLI's alone."""
    printing = []
    for module, path in MODULES.items():
        if _stage(module) in ("cli", "__main__") or module == "mentorrules.sessions.durable_worker":
            continue  # the worker process answers its supervisor on stdout
        tree = ast.parse(path.read_text("utf-8"))
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
               for node in ast.walk(tree)):
            printing.append(module)
    assert not printing, f"only the CLI prints; these call print(): {printing}"


def test_one_exec() -> None:
    """Generated code is compiled and run in one place (generated.py)."""
    running = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval")
               for node in ast.walk(tree)):
            running.append(module)
    assert running == ["mentorrules.generated"], running
