"""Payout rows and their findings -> the money of a run: checked, payable, held, by what.

Computed once, while a run decides (:class:`~mentorrules.checking.validation.Run`), and put in
the summary (``summary.money``); every report format reads these figures, none adds amounts of
its own. Amounts are exact ``Decimal`` and shown with two places, as strings.

What each figure is:

- ``checked``: the amounts of the payout rows judged in this run (rows of the period, when
  ``--period`` is given; rows that could not be read have no amount and are counted apart);
- ``payable``: of those, the rows that pass (no error finding; warnings and info allowed);
- ``held``: the rows with an error finding. ``checked = payable + held``, to the cent;
- ``warnings_only``: the part of ``payable`` whose rows have a warning finding;
- ``history``: the rows before the period, read for caps and duplicates but not judged.

``held_by`` splits ``held`` by rule, district, program, grant and school year, each dollar
once: a row held by three rules counts under the first of them in the row's finding order
(single-row rules in file order, then batch rules), so each split adds up to ``held``.
``held_with`` gives, per rule, the amount of every row the rule holds (a row held by three
rules counts under each: these overlap, and do not add up to ``held``). An empty district,
program, grant or school year is counted under ``(not given)``.

    >>> from mentorrules.model import Finding, Severity
    >>> tally = MoneyTally()
    >>> tally.add({"amount": Decimal("1000.00"), "district": "Belen"}, [])
    >>> tally.add({"amount": Decimal("500.00"), "district": "Belen"},
    ...           [Finding("NMP-005", Severity.ERROR, "over the cap")])
    >>> money = tally.to_dict()
    >>> money["checked"], money["payable"], money["held"], money["held_by"]["district"]
    ('1500.00', '1000.00', '500.00', {'Belen': '500.00'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from mentorrules.model import Decision, Finding, Severity

MONEY_TABLE = "payouts"  # the table whose rows are paid
AMOUNT = "amount"
NOT_GIVEN = "(not given)"
# The splits of held money: (name in the summary, column of the payouts table).
DIMENSIONS = (("district", "district"), ("program", "program"), ("grant", "grant_id"),
              ("school_year", "school_year"))
_CENTS = Decimal("0.01")
_ZERO = Decimal("0.00")


def cents(amount: Decimal) -> str:
    """An amount as the summary shows it: two places, rounded half-even only past the cent.

    >>> cents(Decimal("12")), cents(Decimal("0.005")), cents(Decimal("-3.1"))
    ('12.00', '0.00', '-3.10')
    """
    return str(amount.quantize(_CENTS))


def amount_of(values: Mapping[str, Any]) -> Decimal | None:
    """The row's amount, or None when it has none (an empty cell)."""
    value = values.get(AMOUNT)
    return value if isinstance(value, Decimal) and value.is_finite() else None


class MoneyTally:
    """Adds up the payout rows of a run, row by row; :meth:`to_dict` is ``summary.money``."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(("checked", "payable", "held", "warnings_only", "history"), _ZERO)
        self.rows = dict.fromkeys(("checked", "payable", "held", "warnings_only", "history", "unreadable",
                                   "no_amount"), 0)
        self.held_by: dict[str, dict[str, Decimal]] = {"rule": {}, **{name: {} for name, _ in DIMENSIONS}}
        self.held_with: dict[str, Decimal] = {}
        self.gaps: list[dict[str, str]] = []

    def add(self, values: Mapping[str, Any], findings: Iterable[Finding]) -> None:
        """A judged payout row and its findings."""
        amount = amount_of(values)
        if amount is None:
            self.rows["no_amount"] += 1
            amount = _ZERO
        self.totals["checked"] += amount
        self.rows["checked"] += 1
        found = list(findings)
        errors = list(dict.fromkeys(f.rule for f in found if f.severity is Severity.ERROR))
        if not errors:
            kind = "warnings_only" if any(f.severity is Severity.WARNING for f in found) else None
            self.totals["payable"] += amount
            self.rows["payable"] += 1
            if kind:
                self.totals[kind] += amount
                self.rows[kind] += 1
            return
        self.totals["held"] += amount
        self.rows["held"] += 1
        _add(self.held_by["rule"], errors[0], amount)
        for rule in errors:
            self.held_with[rule] = self.held_with.get(rule, _ZERO) + amount
        for name, column in DIMENSIONS:
            value = values.get(column)
            _add(self.held_by[name], str(value) if value not in (None, "") else NOT_GIVEN, amount)

    def add_passing(self, total: Decimal, rows: int, no_amount: int) -> None:
        """Many judged payout rows with no finding at once: their amounts' sum, how many, how
        many had no amount (the same figures as :meth:`add` row by row).

        >>> tally = MoneyTally()
        >>> tally.add_passing(Decimal("1500.00"), 3, 1)
        >>> tally.to_dict()["payable"], tally.to_dict()["rows"]["no_amount"]
        ('1500.00', 1)
        """
        for name in ("checked", "payable"):
            self.totals[name] += total
            self.rows[name] += rows
        self.rows["no_amount"] += no_amount

    def history(self, values: Mapping[str, Any]) -> None:
        """A payout row before the period: read, not judged."""
        self.totals["history"] += amount_of(values) or _ZERO
        self.rows["history"] += 1

    def unreadable(self) -> None:
        """A payout row that could not be read: no amount is known, it cannot be paid."""
        self.rows["unreadable"] += 1

    def group(self, decision: Decision) -> None:
        """A finding off the payout rows (a group record, a grant) that says by how much it misses."""
        for finding in decision.findings:
            if finding.gap is None or not finding.gap_kind:
                continue
            self.gaps.append({"rule": finding.rule, "table": decision.table, "key": decision.key,
                              "district": finding.district or NOT_GIVEN, finding.gap_kind: cents(finding.gap)})

    def to_dict(self) -> dict[str, Any]:
        """``summary.money``: amounts as strings with two places, row counts, the splits of held."""
        return {**{name: cents(total) for name, total in self.totals.items()},
                "rows": dict(self.rows),
                "held_by": {name: {key: cents(amount) for key, amount in sorted(split.items(), key=_not_given_last)}
                            for name, split in self.held_by.items()},
                "held_with": {rule: cents(amount) for rule, amount in sorted(self.held_with.items())},
                "gaps": list(self.gaps)}


def _add(split: dict[str, Decimal], key: str, amount: Decimal) -> None:
    split[key] = split.get(key, _ZERO) + amount


def _not_given_last(item: tuple[str, Decimal]) -> tuple[bool, str]:
    return (item[0] == NOT_GIVEN, item[0])
