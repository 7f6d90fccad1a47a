"""Two recorded runs side by side: new failures, fixed rows, rows that still fail, money moved.

Rows are matched by table and key, and for a key that several rows of a table share, by
occurrence (the first such row with the first, and so on), never by row number: a payout file
re-exported with a row inserted still matches row for row.

    >>> from mentorrules.history.store import StoredRecord
    >>> before = [StoredRecord("payouts", 1, "P-1", 1, "fail", ("STIPEND-002",), ("amount 0",), "0.005")]
    >>> after = [StoredRecord("payouts", 1, "P-1", 1, "pass", (), (), "10.00"),
    ...          StoredRecord("payouts", 2, "P-2", 1, "fail", ("STIPEND-006",), ("twice",), "500.00")]
    >>> found = changes(before, after)
    >>> [change.key for change in found.new], [change.key for change in found.fixed], str(found.money()["held_change"])
    (['P-2'], ['P-1'], '499.995')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.history.store import MONEY_TABLE, History, RunInfo, StoredRecord

Match = tuple[str, str, int]  # table, key, occurrence


@dataclass(frozen=True)
class Change:
    """One row as it was in the earlier run and as it is in the later one (None: not there)."""

    table: str
    key: str
    occurrence: int
    before: StoredRecord | None
    after: StoredRecord | None

    @property
    def shown(self) -> StoredRecord:
        """The record that says the most now: the later one, else the earlier one."""
        record = self.after or self.before
        assert record is not None
        return record

    @property
    def amount(self) -> Decimal | None:
        """The money this change is about: the later amount, or the earlier for a row now gone."""
        return self.shown.money

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "occurrence": self.occurrence,
                "before": None if self.before is None else _side(self.before),
                "after": None if self.after is None else _side(self.after)}


def _side(record: StoredRecord) -> dict[str, Any]:
    return {"row": record.row, "status": record.status, "rules": list(record.rules),
            "messages": list(record.messages), "amount": record.amount}


@dataclass(frozen=True)
class Changes:
    """How the failing rows changed from one run to the next."""

    new: list[Change] = field(default_factory=list)      # failing now; passed or was not there before
    fixed: list[Change] = field(default_factory=list)    # failed before; passes now
    still: list[Change] = field(default_factory=list)    # fails in both runs
    gone: list[Change] = field(default_factory=list)     # failed before; not in the later input
    held_before: Decimal = Decimal(0)
    held_after: Decimal = Decimal(0)
    unpriced: int = 0  # held payouts whose amount is missing, masked or not a number

    def money(self) -> dict[str, Decimal]:
        """Exact sums: money held in each run, newly held, released by fixes, still held."""
        return {"held_before": self.held_before, "held_after": self.held_after,
                "held_change": self.held_after - self.held_before,
                "new": _sum(self.new), "fixed": _sum(self.fixed), "still": _sum(self.still),
                "gone": _sum(self.gone)}


def _sum(found: Iterable[Change]) -> Decimal:
    return sum((change.amount for change in found if change.shown.table == MONEY_TABLE and change.amount is not None),
               Decimal(0))


def _held(records: Iterable[StoredRecord]) -> tuple[Decimal, int]:
    """The sum of the held payouts' amounts, and how many held payouts have no readable amount."""
    total, unpriced = Decimal(0), 0
    for record in records:
        if record.held:
            money = record.money
            if money is None:
                unpriced += 1
            else:
                total += money
    return total, unpriced


def changes(before: Sequence[StoredRecord], after: Sequence[StoredRecord]) -> Changes:
    """Compare the records of two runs (see the module's docstring)."""
    earlier: dict[Match, StoredRecord] = {(record.table, record.key, record.occurrence): record for record in before}
    pairs: list[tuple[StoredRecord | None, StoredRecord | None]] = []
    matched: set[Match] = set()
    for record in after:
        match = (record.table, record.key, record.occurrence)
        matched.add(match)
        old = earlier.get(match)
        if record.failing or (old is not None and old.failing):
            pairs.append((old, record))
    pairs.extend((record, None) for match, record in earlier.items() if match not in matched and record.failing)
    return classify(pairs)


def classify(pairs: Iterable[tuple[StoredRecord | None, StoredRecord | None]]) -> Changes:
    """Sort rows that fail in either run (before, after; None where a run has no such row) into
    new failures, fixes, rows still failing and rows gone, and sum the money held in each run.

    Every row that fails in either run is in ``pairs``, so the sums need no other row.
    """
    found = Changes()
    before_held: list[StoredRecord] = []
    after_held: list[StoredRecord] = []
    for old, new in pairs:
        either = new or old
        assert either is not None
        change = Change(either.table, either.key, either.occurrence, old, new)
        if new is not None and new.failing:
            (found.still if old is not None and old.failing else found.new).append(change)
        elif new is not None:
            found.fixed.append(change)
        else:
            found.gone.append(change)
        before_held += [old] if old is not None and old.held else []
        after_held += [new] if new is not None and new.held else []
    for kind in (found.new, found.still, found.fixed, found.gone):
        kind.sort(key=lambda change: change.shown.position)  # report order
    held_before, unpriced_before = _held(before_held)
    held_after, unpriced_after = _held(after_held)
    return Changes(found.new, found.fixed, found.still, found.gone, held_before, held_after,
                   unpriced_before + unpriced_after)


@dataclass(frozen=True)
class Comparison:
    """Two runs and how their failing rows changed."""

    before: RunInfo
    after: RunInfo
    changes: Changes

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``mentorrules compare --format json``; money as exact decimal strings."""
        found = self.changes
        return {"before": self.before.to_dict(), "after": self.after.to_dict(),
                "counts": {"new": len(found.new), "fixed": len(found.fixed), "still": len(found.still),
                           "gone": len(found.gone)},
                "money": {name: cents(value) for name, value in found.money().items()},
                "unpriced": found.unpriced,
                "new": [change.to_dict() for change in found.new],
                "fixed": [change.to_dict() for change in found.fixed],
                "still": [change.to_dict() for change in found.still],
                "gone": [change.to_dict() for change in found.gone]}

    def since(self) -> str:
        """The line a report states: ``since the last run on 2026-05-31 (run 4): 12 new failures, 30 fixed``."""
        found = self.changes
        text = (f"since the last run on {self.before.recorded:%Y-%m-%d} (run {self.before.id}): "
                f"{_counted(len(found.new), 'new failure')}, {len(found.fixed)} fixed, "
                f"{len(found.still)} still failing")
        if found.gone:
            text += f", {len(found.gone)} no longer in the input"
        change = found.money()["held_change"]
        return text + (f"; money held {signed(change)}" if change else "; money held unchanged")


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def cents(value: Decimal) -> str:
    """Money as text, exact, with at least two decimals: ``1200`` -> ``1200.00``; ``0.005`` stays."""
    if value == value.quantize(Decimal("0.01")):
        return str(value.quantize(Decimal("0.01")))
    return str(value)


def signed(value: Decimal) -> str:
    """``+$1,200.00``, ``-$50.00``, ``$0.00``: a change of money, for people."""
    sign = "+" if value > 0 else "-" if value < 0 else ""
    return f"{sign}{dollars(abs(value))}"


def dollars(value: Decimal) -> str:
    """``$1,200.00``; more decimals than cents are kept, not rounded away."""
    text = cents(value)
    whole, _, fraction = text.lstrip("-").partition(".")
    return f"{'-' if value < 0 else ''}${int(whole):,}.{fraction}"


def compare(history: History, before: int, after: int) -> Comparison:
    """Compare two recorded runs by id (MR442 when one is not recorded)."""
    earlier, later = history.run(before), history.run(after)
    return Comparison(earlier, later, classify(history.pairs(earlier.id, later.id)))


def since_last(history: History, run: RunInfo | None = None) -> Comparison | None:
    """``run`` (default: the newest) against the run of the same inputs before it; None if it is the first."""
    run = run or history.last()
    if run is None:
        return None
    previous = history.previous(run)
    if previous is None:
        return None
    return Comparison(previous, run, classify(history.pairs(previous.id, run.id)))


def compare_last(history: History) -> Comparison:
    """``compare --since last``: the newest run against the run of the same inputs before it."""
    run = history.last()
    if run is None:
        raise MentorRulesError([Problem("MR442", "no run is recorded yet", Location(str(history.path)),
                                        hint="record runs with: mentorrules validate DATA --record")])
    found = since_last(history, run)
    if found is None:
        names = ", ".join(dict.fromkeys(item.name for item in run.inputs)) or "no files"
        raise MentorRulesError([Problem(
            "MR442", f"run {run.id} is the first recorded run of its inputs ({names}): there is nothing to "
            "compare it with", Location(str(history.path)),
            hint="compare two runs by id: mentorrules compare RUN_A RUN_B (see mentorrules history)")])
    return found
