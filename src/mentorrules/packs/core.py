"""The core pack: rules for every jurisdiction (``rules/``) and the built-in functions.

It is registered in the ``mentorrules`` entry-point group like any state pack, and uses the
same hooks, so the core has no privileges a third-party pack lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from mentorrules import __version__
from mentorrules.hookspecs import PackSpec, hookimpl
from mentorrules.packs.functions import BUILTIN_FUNCTIONS


@hookimpl
def mentorrules_pack() -> PackSpec:
    rules = Path(str(files("mentorrules") / "rules")).resolve()  # the real rules/, not the link
    return PackSpec(name="core", version=__version__, jurisdiction=None, rule_dirs=(rules,),
                    description="Stipend eligibility, first/second-year eligibility, federal cost "
                    "sharing, compensation records and district expectations, for every state.",
                    mask=("name", "email"))


@hookimpl
def mentorrules_expression_functions() -> Mapping[str, Callable[..., Any]]:
    return BUILTIN_FUNCTIONS
