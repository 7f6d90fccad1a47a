"""The columnar backend: the same rules over whole columns (Polars), the same reports.

See ``docs/columnar.md``. :func:`compile_plan` turns a rule book into a :class:`Plan` (per
table, joins and per-rule screens); :class:`ColumnarRun` runs it; :func:`supports` says whether
a rule runs columnar or row-at-a-time, and why.
"""

from mentorrules.checking.columnar.plan import Plan, compile_plan, supports
from mentorrules.checking.columnar.run import ColumnarRun

__all__ = ["ColumnarRun", "Plan", "compile_plan", "supports"]
