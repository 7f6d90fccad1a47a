"""Entry points -> Packs. One plugin manager per Engine; nothing here is global.

A :class:`Pack` is what the rest of the engine needs from a plugin: its declaration, its
files (rules, parameters, tests) and the functions and fields it adds.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from mentorrules import hookspecs
from mentorrules.errors import Location, Problem, one_of
from mentorrules.hookspecs import PackSpec


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
    """Entry points of the ``mentorrules`` group, loaded; a module that fails is a Problem.

    Two distributions registering the same entry-point name would hide one of them, so the
    name then maps to a Problem naming both, and neither pack is loaded.
    """
    found: dict[str, ModuleType | Problem] = {}
    owners: dict[str, str] = {}
    for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        name = entry_point.name
        owner = f"{_distribution(entry_point)} ({entry_point.value})"
        if name in owners:
            found[name] = Problem("MR404", f"two installed packs register the entry point {name!r}: "
                                  f"{owners[name]} and {owner}", Location(f"entry point {name!r}"),
                                  hint="uninstall one of them (pip uninstall ...)")
            continue
        owners[name] = owner
        try:
            found[name] = entry_point.load()
        except Exception as error:  # a broken third-party pack must not crash the engine
            found[name] = Problem(
                "MR402", f"the pack {name!r} ({entry_point.value}) failed to import: "
                f"{type(error).__name__}", Location(entry_point.value),
                hint="reinstall the pack, or uninstall it")
    return found


def installed_names() -> set[str]:
    """Every name an installed pack answers to: its entry-point name, its declared name and its
    module (``alaska``, ``mentorrules_alaska``), for refusing a new pack that would clash."""
    names = set()
    for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        names |= {entry_point.name, entry_point.value.split(":")[0]}
    found, _ = _installed_packs()
    return names | {pack.name for pack in found}


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    distribution = getattr(entry_point, "dist", None)
    return str(distribution.name) if distribution is not None else "an unknown distribution"


def discover(wanted: Iterable[str] | None, local_dirs: Iterable[Path] = (),
             versions: Iterable[Path] = ()) -> tuple[list[Pack], list[Problem]]:
    """The installed packs (all of them, or core plus ``wanted``) and any rule paths given.

    Core is always loaded: state packs build on its tables and functions. ``wanted`` names
    packs by their declared name or entry-point name.

    A rule path (``--rules PATH``, ``mentorrules test PATH``) is one of three things:

    - inside an installed pack's rules: that pack (``mentorrules test rules/``);
    - a directory that is a *version* of an installed pack — a ``pack.yaml`` names it, or it is
      a copy (most of its rule ids are the pack's, and it has most of the pack's rule ids): it
      replaces that pack and keeps the pack's name, version and jurisdiction;
    - anything else: a pack of its own, named by its ``pack.yaml`` or after the directory or
      file (``caps.yaml`` is the pack ``caps``), applying to every record.

    ``versions`` (``mentorrules diff --after DIR``) must each be a version of an installed pack;
    a directory sharing only file names with a pack (parameters only) counts for them too.
    """
    installed, problems = _installed_packs()
    packs = list(installed)
    if wanted is not None:
        wanted = list(wanted)
        names = {pack.name for pack in packs}
        problems += [Problem("MR401", f"unknown pack {name!r}", Location(), expected=one_of(names),
                             hint="see `mentorrules packs`") for name in wanted if name not in names]
        packs = [pack for pack in packs if pack.name == "core" or pack.name in wanted]
    matcher = _Versions(installed)
    replaced: dict[str, Path] = {}

    def use(pack: Pack, path: Path | None = None) -> None:
        """Load ``pack`` (a version of an installed pack, or an installed pack outside --pack)."""
        nonlocal packs
        if path is not None and pack.name in replaced:
            problems.append(Problem("MR404", f"two rule directories are versions of the pack {pack.name!r}",
                                    Location(str(path)), hint=f"the other is {replaced[pack.name]}; give one"))
            return
        if path is not None:
            replaced[pack.name] = path
        packs = [other for other in packs if other.name != pack.name] + [pack]

    for path in versions:
        problem = check_rules_path(path)
        if problem is not None:
            problems.append(problem)
            continue
        target = matcher.target(path, by_file_names=True)
        if target is None:
            problems.append(Problem("MR409", "no installed pack matches this rules directory", Location(str(path)),
                                    hint="give it a pack.yaml with `name:` of the pack it is a version of"))
            continue
        use(_version(target, path), path)
    for path in local_dirs:
        problem = check_rules_path(path)
        if problem is not None:
            problems.append(problem)
            continue
        owner = next((pack for pack in installed if _inside(path, pack)), None)
        if owner is not None:
            if owner.name not in {pack.name for pack in packs}:
                use(owner)
            continue
        # The same rule as for `diff --after`: a pack.yaml, a copy, or some of a pack's files.
        target = matcher.target(path, by_file_names=True) if path.is_dir() else None
        if target is not None:
            use(_version(target, path), path)
            continue
        packs.append(local_pack(path, taken={pack.name for pack in packs}))
    problems += _clashes(packs)
    problems += [problem for pack in packs for problem in pack_problems(pack)]
    packs.sort(key=lambda pack: (pack.name != "core", pack.jurisdiction or "", pack.name))
    return packs, problems


def _installed_packs() -> tuple[list[Pack], list[Problem]]:
    """Every installed pack, each registered with one plugin manager made for this call."""
    problems: list[Problem] = []
    installed: list[Pack] = []
    modules = installed_plugins()
    manager = plugin_manager()
    for name, module in modules.items():
        if isinstance(module, Problem):
            problems.append(module)
        else:
            manager.register(module, name=name)
    for entry_name, module in modules.items():
        if isinstance(module, Problem):
            continue
        pack, pack_problems = _pack_of(manager, entry_name, module)
        problems += pack_problems
        if pack is not None:
            installed.append(pack)
    return installed, problems


def check_rules_path(path: Path) -> Problem | None:
    """A problem when ``path`` cannot be a rule path: missing, not YAML, or a directory without
    rule, parameter or test files (a mistyped path must never load nothing in silence).

    >>> check_rules_path(Path("/nonexistent")).message
    'the rules path does not exist'
    """
    where = Location(str(path))
    if not path.exists():
        return Problem("MR411", "the rules path does not exist", where,
                       hint="check the spelling; rule paths are directories or .yaml files")
    if not path.is_file() and not path.is_dir():
        return Problem("MR411", "the rules path is not a file or a directory (a pipe or a device)", where,
                       expected="a .yaml rule, parameter or test file, or a directory of them")
    if path.is_file() and path.suffix != ".yaml":
        return Problem("MR411", f"{path.name!r} is not a rule file", where,
                       expected="a .yaml rule, parameter or test file, or a directory of them")
    if path.is_dir() and not any(found.name != "pack.yaml" for found in path.rglob("*.yaml")):
        return Problem("MR411", "the directory holds no rule files", where,
                       expected="*.yaml rule, parameter or test files in it or below it")
    return None


def _inside(path: Path, pack: Pack) -> bool:
    resolved = path.resolve()
    return any(resolved == directory.resolve() or directory.resolve() in resolved.parents
               for directory in pack.spec.rule_dirs)
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


def local_pack(path: Path, taken: Iterable[str] = ()) -> Pack:
    """Rules given on the command line (``--rules PATH``): a directory or one file.

    A ``pack.yaml`` in the directory may give ``name``, ``version`` and ``jurisdiction``;
    without it the pack is named after the directory or file (``caps.yaml`` -> ``caps``),
    with ``-2``, ``-3``... when that name is ``taken``, and applies to every record.

    >>> local_pack(Path("/tmp/caps.yaml"), taken=["core", "caps"]).name
    'caps-2'
    """
    manifest = _manifest(path)
    name = str(manifest["name"]) if "name" in manifest else _unused(_name_of(path), set(taken))
    jurisdiction = manifest.get("jurisdiction")
    return files_of(PackSpec(name=name, version=str(manifest.get("version", "0")),
                             jurisdiction=str(jurisdiction) if jurisdiction is not None else None,
                             rule_dirs=(path,), programs=_names(manifest.get("programs")),
                             grants=_names(manifest.get("grants"))))


def _names(value: Any) -> tuple[str, ...]:
    """A pack.yaml list of names (programs, grants); anything else is no names."""
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def _manifest(path: Path) -> dict[str, Any]:
    """The ``pack.yaml`` of a rules directory, or {}.

    It sits in the directory, or in the one folder below it that holds rules (a pack's source
    tree: ``oregon/`` finds ``oregon/src/mentorrules_oregon/rules/pack.yaml``).
    """
    if not path.is_dir():
        return {}
    manifest = path / "pack.yaml"
    if not manifest.is_file():
        below = sorted(path.rglob("pack.yaml"))
        if len(below) != 1:
            return {}
        manifest = below[0]
    return _mapping_of(manifest)


def _mapping_of(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping, read leniently ({} for a broken file: its problems are
    reported when it is loaded)."""
    from mentorrules.located import load_yaml, read_text

    text, _ = read_text(path)
    document, _ = load_yaml(text or "", str(path))
    return dict(document.value) if isinstance(document.value, dict) else {}


def _name_of(path: Path) -> str:
    """A pack name of the id alphabet from a folder or file name (``My Rules`` -> ``my-rules``)."""
    name = path.resolve().name
    for suffix in (".yaml", ".test", ".parameters"):
        name = name.removesuffix(suffix)
    name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:64]
    return name or "local"


def _unused(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    return candidate


class _Versions:
    """Finds the installed pack a rules directory is a version of."""

    def __init__(self, installed: Sequence[Pack]) -> None:
        self.installed = installed
        self._ids: dict[str, set[str]] | None = None

    def target(self, path: Path, by_file_names: bool = False) -> Pack | None:
        """The pack a ``pack.yaml`` names; else the pack the directory is a copy of (most of
        either's rule ids are the other's); else (with ``by_file_names``) the one sharing the
        most rule and parameter file names."""
        manifest = _manifest(path)
        if "name" in manifest:
            return next((pack for pack in self.installed if pack.name == str(manifest["name"])), None)
        ids = _rule_ids(files_of(PackSpec(name="", version="", rule_dirs=(path,))).rule_files)
        if self._ids is None:
            self._ids = {pack.name: _rule_ids(pack.rule_files) for pack in self.installed}
        known = self._ids

        def shared(pack: Pack) -> int:
            # A copy holds most of the pack's rules and mostly the pack's rules; a new pack that
            # reuses one id by mistake is not a copy (its clash is reported as MR130).
            common = len(ids & known[pack.name])
            return common if 2 * common > len(ids) and 2 * common > len(known[pack.name]) else 0

        best = _most(self.installed, shared)
        if best is None and by_file_names:
            # Parameters only, or a few rules: the pack whose rule files it shares most, and whose
            # parameter files of the same names define the parameters it defines, and only when no
            # other pack shares as many (every pack has a parameters.yaml).
            candidate = files_of(PackSpec(name="", version="", rule_dirs=(path,)))
            files = {p.name for p in candidate.rule_files}

            def score(pack: Pack) -> int:
                theirs = {p.name: p for p in pack.parameter_files}
                return len(files & {p.name for p in pack.rule_files}) + sum(
                    len(_parameter_names([ours]) & _parameter_names([theirs[ours.name]]))
                    for ours in candidate.parameter_files if ours.name in theirs)

            best = _most(self.installed, score, unique=True)
            if best is not None and not ids <= known[best.name]:
                best = None  # rules of its own: a new pack (a pack.yaml can still name the pack)
        return best


def _most(packs: Sequence[Pack], score: Callable[[Pack], int], unique: bool = False) -> Pack | None:
    """The pack of the highest score above 0 (with ``unique``: None when two packs share it)."""
    scored = [(score(pack), pack) for pack in packs]
    best = max(scored, key=lambda item: item[0], default=(0, None))
    if unique and sum(points == best[0] for points, _ in scored) > 1:
        return None
    return best[1] if best[0] else None


def _parameter_names(paths: Iterable[Path]) -> set[str]:
    """The parameter names of parameter files, read leniently."""
    names: set[str] = set()
    for path in paths:
        parameters = _mapping_of(path).get("parameters")
        if isinstance(parameters, dict):
            names.update(map(str, parameters))
    return names


def _rule_ids(paths: Iterable[Path]) -> set[str]:
    """The rule ids of rule files, read leniently."""
    ids = set()
    for path in paths:
        rules = _mapping_of(path).get("rules")
        for rule in rules if isinstance(rules, list) else ():
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                ids.add(rule["id"])
    return ids


def _version(target: Pack, path: Path) -> Pack:
    """``target`` with its files taken from ``path``; a ``pack.yaml`` there may give the version.

    A copy of the pack (most of its rule ids) replaces it, so a file deleted from the copy is
    gone. A directory holding only some files (a changed parameter file) is laid over the
    pack: each of its files replaces the pack's file of the same name, the others stay.
    """
    manifest = _manifest(path)
    version = manifest.get("version")
    spec = replace(target.spec, rule_dirs=(path,),
                   version=str(version) if version is not None else target.spec.version,
                   programs=_names(manifest["programs"]) if "programs" in manifest else target.spec.programs,
                   grants=_names(manifest["grants"]) if "grants" in manifest else target.spec.grants)
    pack = files_of(spec, target.functions, target.fields)
    own = _rule_ids(target.rule_files)
    if 2 * len(_rule_ids(pack.rule_files) & own) > len(own):
        return pack

    def laid_over(theirs: tuple[Path, ...], ours: tuple[Path, ...]) -> tuple[Path, ...]:
        names = {path.name for path in ours}
        return (*(path for path in theirs if path.name not in names), *ours)

    return replace(pack, spec=replace(spec, rule_dirs=(*target.spec.rule_dirs, path)),
                   rule_files=laid_over(target.rule_files, pack.rule_files),
                   parameter_files=laid_over(target.parameter_files, pack.parameter_files),
                   test_files=laid_over(target.test_files, pack.test_files))


def rule_paths_said(packs: Sequence[Pack], paths: Iterable[Path], installed: Iterable[str]) -> list[str]:
    """What each rule path given on the command line that stands for an installed pack became, in
    words every command prints: laid over the pack, or in place of it (a copy); and, for a folder
    laid over a pack whose files are byte for byte the pack's own, that it changes nothing. A
    pack of its own, or a path inside an installed pack, is not told.

    >>> rule_paths_said([], [], [])
    []
    """
    said = []
    names = set(installed)
    for path in paths:
        pack = next((pack for pack in packs if path in pack.spec.rule_dirs), None)
        if pack is None or pack.name not in names:
            continue
        if pack.spec.rule_dirs == (path,):
            said.append(f"{path} stands in place of the pack {pack.name} (a copy of it)")
        else:
            said.append(f"{path} laid over the pack {pack.name}")
            if not _changes(pack, path):
                said.append(f"{path} changes nothing in the pack {pack.name}: its files are the pack's own")
    return said


def _changes(pack: Pack, path: Path) -> bool:
    """Whether a folder laid over a pack changes it: a file of its own, or one that differs."""
    def every_file(directories: tuple[Path, ...]) -> tuple[Path, ...]:
        found = files_of(PackSpec(name="", version="", rule_dirs=directories))
        return (*found.rule_files, *found.parameter_files, *found.test_files)

    originals = {original.name: original for original in every_file(pack.spec.rule_dirs[:-1])}
    for file in every_file((path,)):
        original = originals.get(file.name)
        try:
            if original is None or original.read_bytes() != file.read_bytes():
                return True
        except OSError:
            return True
    return False


PACK_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)


def pack_problems(pack: Pack) -> list[Problem]:
    """A pack's name must be of the id alphabet (it becomes a file name: ``docs`` writes
    ``<name>.md``), and its files must be plain files inside its own folders: a symbolic link
    leading out of the pack (or to a pipe or a device) is refused, not followed.

    >>> spec = PackSpec(name="../../x", version="1", jurisdiction=None)
    >>> [problem.message for problem in pack_problems(files_of(spec))]
    ["the pack name '../../x' is not lower-case letters, digits, '-' and '_'"]
    """
    problems = []
    if not PACK_NAME.fullmatch(pack.name):
        problems.append(Problem("MR415", f"the pack name {pack.name!r} is not lower-case letters, digits, '-' and '_'",
                                Location(), expected="a name such as new-mexico or oregon_2026",
                                hint="rename the pack (pack.yaml `name:`, or PackSpec(name=...))"))
    roots = [Path(os.path.realpath(folder)) for folder in pack.spec.rule_dirs]
    for path in (*pack.rule_files, *pack.parameter_files, *pack.test_files):
        real = Path(os.path.realpath(path))
        if any(real == root or root in real.parents for root in roots) and real.is_file():
            continue
        problems.append(Problem("MR415", "the file is a link to a file outside the pack, or not a regular file",
                                Location(str(path)),
                                hint="copy the file into the pack's folder instead of linking to it"))
    return problems


def _clashes(packs: list[Pack]) -> list[Problem]:
    problems = []
    owners: dict[str, Pack] = {}
    for pack in packs:
        if pack.name in owners:
            problems.append(Problem("MR404", f"two packs are named {pack.name!r}", Location(),
                                    hint="uninstall one of them, or rename a rules directory's pack in its pack.yaml"))
        owners[pack.name] = pack
    return problems
