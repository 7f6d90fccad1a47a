"""Entry points -> Packs. One plugin manager per Engine; nothing here is global.

A :class:`Pack` is what the rest of the engine needs from a plugin: its declaration, its
files (rules, parameters, tests) and the functions and fields it adds.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from mentorrules import hookspecs
from mentorrules.errors import Location, Problem, one_of
from mentorrules.hookspecs import PackSpec

LOCAL_PACK = "local"


@dataclass(frozen=True)
class Pack:
    """A loaded pack: what it declared, where its files are, what Python it adds."""

    spec: PackSpec
    rule_files: tuple[Path, ...]
    parameter_files: tuple[Path, ...]
    test_files: tuple[Path, ...]
    functions: Mapping[str, Callable[..., Any]]
    fields: Mapping[str, Mapping[str, str]]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def jurisdiction(self) -> str | None:
        return self.spec.jurisdiction


def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the hookspecs added and nothing registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def installed_plugins() -> dict[str, ModuleType | Problem]:
    """Entry points of the ``mentorrules`` group, loaded; a module that fails is a Problem."""
    found: dict[str, ModuleType | Problem] = {}
    for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        try:
            found[entry_point.name] = entry_point.load()
        except Exception as error:  # a broken third-party pack must not crash the engine
            found[entry_point.name] = Problem(
                "MR402", f"the pack {entry_point.name!r} ({entry_point.value}) failed to import: "
                f"{type(error).__name__}", Location(entry_point.value),
                hint="reinstall the pack, or uninstall it")
    return found


def discover(wanted: Iterable[str] | None, local_dirs: Iterable[Path] = (),
             versions: Iterable[Path] = ()) -> tuple[list[Pack], list[Problem]]:
    """The installed packs (all of them, or core plus ``wanted``) and any rule directories given.

    Core is always loaded: state packs build on its tables and functions. ``wanted`` names
    packs by their declared name or entry-point name.
    """
    problems: list[Problem] = []
    modules = installed_plugins()
    manager = plugin_manager()
    for name, module in modules.items():
        if isinstance(module, Problem):
            problems.append(module)
            continue
        manager.register(module, name=name)
    packs: list[Pack] = []
    for entry_name, module in modules.items():
        if isinstance(module, Problem):
            continue
        pack, pack_problems = _pack_of(manager, entry_name, module)
        problems += pack_problems
        if pack is not None:
            packs.append(pack)
    if wanted is not None:
        wanted = list(wanted)
        names = {pack.name for pack in packs}
        problems += [Problem("MR401", f"unknown pack {name!r}", Location(), expected=one_of(names),
                             hint="see `mentorrules packs`") for name in wanted if name not in names]
        packs = [pack for pack in packs if pack.name == "core" or pack.name in wanted]
    for version in versions:
        packs, found = _replace(packs, version)
        if not found:
            problems.append(Problem("MR409", "no installed pack matches this rules directory", Location(str(version)),
                                    hint="give it a pack.yaml with `name:` of the pack it is a version of"))
    # A path inside an installed pack's rules is that pack (`mentorrules test rules/`).
    installed = [directory.resolve() for pack in packs for directory in pack.spec.rule_dirs]
    packs += [local_pack(path) for path in local_dirs
              if not any(path.resolve() == d or d in path.resolve().parents for d in installed)]
    problems += _clashes(packs)
    packs.sort(key=lambda pack: (pack.name != "core", pack.jurisdiction or "", pack.name))
    return packs, problems


def _pack_of(manager: pluggy.PluginManager, entry_name: str,
             module: ModuleType) -> tuple[Pack | None, list[Problem]]:
    where = Location(f"entry point {entry_name!r}")
    implementation = getattr(module, "mentorrules_pack", None)
    if implementation is None:
        return None, [Problem("MR403", f"the module {module.__name__!r} registered as a pack "
                              "does not implement mentorrules_pack()", where,
                              hint="see the hookspecs in mentorrules.hookspecs")]
    try:
        spec = implementation()
        functions = _call(manager, module, "mentorrules_expression_functions")
        fields = _call(manager, module, "mentorrules_table_fields")
    except Exception as error:  # a broken third-party pack must not crash the engine
        return None, [Problem("MR403", f"a hook of the pack {entry_name!r} failed: {type(error).__name__}", where,
                              hint="fix or uninstall the pack")]
    if not isinstance(spec, PackSpec):
        return None, [Problem("MR403", f"mentorrules_pack() of {module.__name__!r} returned "
                              f"{type(spec).__name__}", where, expected="a PackSpec")]
    return files_of(spec, functions, fields), []


def _call(manager: pluggy.PluginManager, module: ModuleType, hook: str) -> Mapping[str, Any]:
    """Call one plugin's implementation of a hook, so results stay attributed to their pack."""
    for implementation in getattr(manager.hook, hook).get_hookimpls():
        if implementation.plugin is module:
            result = implementation.function()
            return dict(result or {})
    return {}


def files_of(spec: PackSpec, functions: Mapping[str, Callable[..., Any]] | None = None,
             fields: Mapping[str, Mapping[str, str]] | None = None) -> Pack:
    """A Pack with its YAML files sorted into rules, parameters and tests."""
    rules: list[Path] = []
    parameters: list[Path] = []
    tests: list[Path] = []
    for directory in spec.rule_dirs:
        paths = [directory] if directory.is_file() else sorted(directory.rglob("*.yaml"))
        for path in paths:
            name = path.name
            if name == "pack.yaml":
                continue
            if name.endswith(".test.yaml"):
                tests.append(path)
            elif name == "parameters.yaml" or name.endswith(".parameters.yaml"):
                parameters.append(path)
            else:
                rules.append(path)
    return Pack(spec, tuple(rules), tuple(parameters), tuple(tests), functions or {}, fields or {})


def local_pack(path: Path) -> Pack:
    """Rules given on the command line (``--rules PATH``): a directory or one file.

    A ``pack.yaml`` in the directory may give ``name``, ``version`` and ``jurisdiction``;
    without it the rules form a pack named ``local`` that applies to every record.
    """
    name, version, jurisdiction = LOCAL_PACK, "0", None
    manifest = path / "pack.yaml" if path.is_dir() else None
    if manifest is not None and manifest.is_file():
        from mentorrules.loading import load_yaml, read_text

        text, _ = read_text(manifest)
        document, _ = load_yaml(text or "", str(manifest))
        if isinstance(document.value, dict):
            name = str(document.value.get("name", name))
            version = str(document.value.get("version", version))
            jurisdiction = document.value.get("jurisdiction")
    return files_of(PackSpec(name=name, version=version, jurisdiction=jurisdiction, rule_dirs=(path,)))


def _replace(packs: list[Pack], version: Path) -> tuple[list[Pack], bool]:
    """Swap in another version of a pack's rules: the pack named by its pack.yaml, or the pack
    sharing the most rule file names with it."""
    candidate = local_pack(version)
    names = {path.name for path in (*candidate.rule_files, *candidate.parameter_files)}
    if candidate.name != LOCAL_PACK:
        target = next((pack for pack in packs if pack.name == candidate.name), None)
    else:
        scored = [(len(names & {p.name for p in (*pack.rule_files, *pack.parameter_files)}), pack) for pack in packs]
        best = max(scored, key=lambda item: item[0], default=(0, None))
        target = best[1] if best[0] else None
    if target is None:
        return packs, False
    spec = replace(target.spec, rule_dirs=(version,))
    swapped = files_of(spec, target.functions, target.fields)
    return [swapped if pack is target else pack for pack in packs], True


def _clashes(packs: list[Pack]) -> list[Problem]:
    problems = []
    owners: dict[str, Pack] = {}
    for pack in packs:
        if pack.name in owners:
            problems.append(Problem("MR404", f"two packs are named {pack.name!r}", Location(),
                                    hint="uninstall one of them, or rename the --rules pack in its pack.yaml"))
        owners[pack.name] = pack
    return problems
