"""Every hook a pack may implement. A pack is a module registered in the entry-point group
``mentorrules``; it implements the hooks below with :data:`hookimpl`.

The smallest pack declares itself and ships YAML beside its module::

    # my_state_pack/__init__.py
    from pathlib import Path
    from mentorrules import PackSpec, hookimpl

    @hookimpl
    def mentorrules_pack() -> PackSpec:
        return PackSpec(name="oregon", version="1.0.0", jurisdiction="OR",
                        rule_dirs=(Path(__file__).parent / "rules",))

    # pyproject.toml
    [project.entry-points.mentorrules]
    oregon = "my_state_pack"

The core pack (``mentorrules.packs.core``) is registered the same way and uses the same hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

PROJECT = "mentorrules"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class PackSpec:
    """What a pack declares about itself.

    ``jurisdiction`` is a state code (``"NM"``) or ``None`` for a pack whose rules apply to every
    record. ``rule_dirs`` hold the pack's YAML: rule files (``*.yaml``), parameter files
    (``parameters.yaml`` or ``*.parameters.yaml``) and rule tests (``*.test.yaml``) beside the
    rules they test. ``mask`` names personal fields masked by default in reports that leave
    the office. ``programs`` names the programs the pack owns (``NM_PILOT``): ``validate
    --complete`` asks for the tables of its rules only when the data has rows of its state or
    programs. ``grants`` names grants the pack owns that are not federal awards (a state's own
    match pool, ``WY-MATCH``): core cost-share rules do not ask the ``grants`` table about them
    (they see the list as ``params.pack_grants``).

    >>> PackSpec(name="oregon", version="1.0.0", jurisdiction="OR").jurisdiction
    'OR'
    """

    name: str
    version: str
    jurisdiction: str | None = None
    rule_dirs: tuple[Path, ...] = ()
    description: str = ""
    mask: tuple[str, ...] = field(default=())
    programs: tuple[str, ...] = field(default=())
    grants: tuple[str, ...] = field(default=())


@hookspec
def mentorrules_pack() -> PackSpec:  # type: ignore[empty-body]
    """Declare the pack: its name, version, jurisdiction and rule directories.

    Called once per Engine, first. Every registered module must implement it; a module
    without it is reported as a pack problem. Pack names are unique: two modules declaring
    the same name are a load error naming both.

        @hookimpl
        def mentorrules_pack():
            return PackSpec(name="new-mexico", version="1.2.0", jurisdiction="NM",
                            rule_dirs=(Path(__file__).parent / "rules",))
    """


@hookspec
def mentorrules_expression_functions() -> Mapping[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Offer functions that rule expressions may call by name.

    Called once per Engine, after packs are found and before any rule is compiled.
    Return ``{name used in expressions: plain function}``, or ``{}`` when there is nothing.
    All packs' mappings are merged; a name offered twice is a load error naming both packs.
    Type hints are the contract the expression checker enforces (``date``, ``Decimal``,
    ``str``, ``int``, ``bool``, ``list``); a function must not change anything it is given.
    Functions must be pure: a call whose arguments are all literals (``date("2025-07-01")``) is
    made once when rules are loaded, and one that raises ``ValueError``, ``TypeError``,
    ``ArithmeticError`` or ``LookupError`` there is a load error of the rule.

        @hookimpl
        def mentorrules_expression_functions():
            return {"contract_days_between": contract_days_between}
    """


@hookspec
def mentorrules_table_fields() -> Mapping[str, Mapping[str, str]]:  # type: ignore[empty-body]
    """Declare extra input columns the pack's rules read, with their type.

    Called once per Engine, before rules are compiled. Return ``{table: {column: type}}`` where
    type is one of ``text``, ``integer``, ``decimal``, ``boolean``, ``date``, ``list``, or ``{}``.
    The core tables (``schemas/tables/``) cannot be redefined: a column already in the contract
    or declared by another pack with another type is a load error.

        @hookimpl
        def mentorrules_table_fields():
            return {"people": {"nm_license_number": "text"}}
    """
