"""A table's header -> the problem with it, in words that fix the file.

A header that lacks required columns is told what to do: rename a near miss (``amout`` ->
``amount``), delete the title lines above the real header (a report exported from a
spreadsheet often starts with a title and a blank line), or add the column. Nothing is guessed:
the file is refused until it is fixed (exit code 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches

from mentorrules.errors import Location, Problem
from mentorrules.loading.tables import Table

TITLE_LINES = 10  # rows below the first that are searched for a header


def missing_columns(table: Table, where: Location, names: Sequence[str],
                    below: Iterable[Sequence[str]] = ()) -> Problem | None:
    """The problem of a header ``names`` lacking required columns, or None.

    ``below`` are the next rows of the file (as text), searched for the real header when the
    first row is a title.

    >>> from mentorrules.loading.tables import Table
    >>> table = Table("payouts", "payout", ("payout_id",), {"payout_id": "text", "amount": "decimal"},
    ...               required=("payout_id", "amount"))
    >>> missing_columns(table, Location("p.csv"), ["payout_id", "amout"]).hint
    "rename 'amout' to 'amount'"
    >>> missing_columns(table, Location("p.csv"), ["June payouts"], [[""], ["payout_id", "amount"]]).message
    'the header is on row 3, below 2 title rows'
    """
    missing = [name for name in table.required if name not in set(names)]
    if not missing:
        return None
    for offset, row in enumerate(below, start=2):
        if offset > TITLE_LINES + 1:
            break
        cells = {str(cell).strip() for cell in row if cell is not None}
        if all(name in cells for name in table.required):
            rows = "row 1" if offset == 2 else f"rows 1-{offset - 1}"
            return Problem("MR302", f"the header is on row {offset}, below {offset - 1} title "
                           f"{'row' if offset == 2 else 'rows'}", where,
                           expected=f"the column names ({', '.join(table.required)}) on the first row",
                           hint=f"delete {rows}, so that the header is the first row")
    unknown = [name for name in names if name and name not in table.fields]
    renames = []
    for name in missing:
        close = get_close_matches(name, unknown, n=1, cutoff=0.6)
        if close:
            renames.append(f"rename {close[0]!r} to {name!r}")
            unknown.remove(close[0])
    added = [name for name in missing if not any(f"to {name!r}" in rename for rename in renames)]
    hint = "; ".join([*renames, *(["add the column" + ("s " if len(added) > 1 else " ")
                                    + ", ".join(map(repr, added)) + " (cells may be empty where a value is unknown)"]
                                  if added else [])])
    return Problem("MR302", f"the table {table.name!r} has no column {', '.join(map(repr, missing))}", where,
                   expected=f"the columns {', '.join(table.required)}", hint=hint)
