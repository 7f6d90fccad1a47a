"""The one place where generated Python is compiled and run.

Generated source comes only from trees that passed the expression checker
(:mod:`mentorrules.loading.expressions`) or from the engine's own templates (a table's row
reader, a batch rule's names): never from rule text as written. It runs with the globals it is
given and no builtins, so a generated function can reach nothing it was not handed.

    >>> define("def _twice(x):\\n    return x * 2\\n", {}, "<example>")["_twice"](21)
    42
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def define(source: str, scope: Mapping[str, Any], filename: str) -> dict[str, Any]:
    """Compile ``source`` and run it with ``scope`` as its globals (no builtins unless given);
    returns those globals, the functions it defined among them."""
    namespace: dict[str, Any] = {"__builtins__": {}, **scope}
    exec(compile(source, filename, "exec"), namespace)
    return namespace
