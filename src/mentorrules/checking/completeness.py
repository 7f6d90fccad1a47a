"""A run -> whether it judged everything it was asked to: ``summary.complete`` and the reasons.

A run is incomplete when rules did not run (they read a table that was not given), or when a
period is judged (``--period``) and rules that look back further than the period cannot see the
payouts before it: a yearly cap or an installment count needs the payouts of the period's school
year from July 1; a repeated payout id or the years of mentorship per teacher need every earlier
payout. The report says so first, in every format, so that a partial check never reads as a
clean pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from mentorrules.checking.batch import BatchRule
from mentorrules.checking.money import MONEY_TABLE
from mentorrules.checking.period import school_year_label, school_year_start
from mentorrules.checking.validation import Run
from mentorrules.loading.rulebook import Rule


def completeness(rules: Sequence[Rule], batch: Sequence[BatchRule], not_checked: Mapping[str, tuple[str, ...]],
                 run: Run) -> dict[str, Any]:
    """``{"complete": True}``, or ``complete: False`` with ``incomplete``: the rules loaded, how
    many did not run, the tables not given, the history missing, and the reasons in words."""
    reasons = []
    tables = sorted({table for needed in not_checked.values() for table in needed})
    if tables:
        reasons.append(f"tables not given: {', '.join(tables)}")
    history = _history_missing(batch, not_checked, run)
    reasons += [item["why"] for item in history]
    if not reasons:
        return {"complete": True}
    return {"complete": False,
            "incomplete": {"rules": len(rules), "not_run": len(not_checked), "tables_not_given": tables,
                           "history_missing": history, "reasons": reasons}}


def _history_missing(batch: Sequence[BatchRule], not_checked: Mapping[str, tuple[str, ...]],
                     run: Run) -> list[dict[str, Any]]:
    period = run.period
    if period is None or MONEY_TABLE not in run.tables:
        return []
    by_year: list[str] = []
    by_all: list[str] = []
    for rule in batch:
        if rule.rule.id in not_checked or rule.table.name != MONEY_TABLE or not rule.batch.group_by:
            continue
        grouped_by_year = any("school_year" in expression.text for _, expression in rule.batch.group_by)
        (by_year if grouped_by_year else by_all).append(rule.rule.id)
    missing: list[dict[str, Any]] = []
    earliest, _ = run.history_from()
    year_start = school_year_start(period.start)
    day_before = (period.start - dt.timedelta(days=1)).isoformat()
    if by_year and year_start < period.start and not run.school_year_history():
        missing.append({"rules": sorted(by_year), "from": year_start.isoformat(), "until": day_before,
                        "why": f"payouts before {period.start.isoformat()} of {school_year_label(period.start)} "
                               f"were not given; {', '.join(sorted(by_year))} cannot see them"})
    if by_all and earliest is None:
        missing.append({"rules": sorted(by_all), "from": None, "until": day_before,
                        "why": f"no payout before {period.start.isoformat()} was given; "
                               f"{', '.join(sorted(by_all))} cannot see earlier payouts"})
    return missing
