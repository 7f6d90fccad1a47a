"""Typed rows -> Polars frames with the same values, and the columns every screen needs.

A frame holds a table's *readable* rows (an unreadable row, or a row whose key repeats, is an
error row and no rule runs on it), in input order, with ``__row`` the row number. Column types
follow the table's contract: text ``String``, integer ``Int64``, decimal ``Decimal`` (exact,
never float) plus ``<column>.__text`` holding each amount as written (``2.5`` stays ``2.5`` for
functions such as ``places()``), date ``Date``, boolean ``Boolean``, list ``List(String)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import polars as pl

from mentorrules.checking.columnar.translate import Unsupported
from mentorrules.inputs.reading import Row, Rows
from mentorrules.loading.tables import Table

_TYPES: dict[str, Any] = {"text": pl.String, "integer": pl.Int64, "date": pl.Date, "boolean": pl.Boolean,
                          "list": pl.List(pl.String)}


def series(name: str, kind: str, values: Sequence[Any]) -> list[pl.Series]:
    """A column of typed values (and, for decimals, their exact text); :class:`Unsupported` when
    a value does not fit its Polars type (an integer beyond 64 bits), so that the table's rules
    run row-at-a-time rather than differ."""
    try:
        if kind == "decimal":
            # Through the text: Polars parses it faster than it converts Decimal objects, and
            # the text is what functions such as places() must see.
            text = pl.Series(f"{name}.__text", [None if v is None else str(v) for v in values], dtype=pl.String)
            if text.str.contains("E", literal=True).any():  # 1E+3: let Polars convert the objects
                decimal = pl.Series(name, values)
                if not isinstance(decimal.dtype, pl.Decimal):
                    decimal = decimal.cast(pl.Decimal(38, 0))
            else:
                scale = text.str.extract(r"\.(\d+)$").str.len_chars().max()
                scale = int(scale) if isinstance(scale, int) else 0
                if scale > 20:
                    raise Unsupported(f"column {name!r} has more than 20 decimal places")
                decimal = text.str.to_decimal(scale=scale).alias(name)
            return [decimal, text]
        return [pl.Series(name, values, dtype=_TYPES[kind], strict=True)]
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as error:
        raise Unsupported(f"column {name!r}: {error}") from error


def frame_of(table: Table, rows: Sequence[Row], fields: Collection[str] | None = None,
             prefix: str = "") -> pl.DataFrame:
    """The readable rows of a table, one column per field (see the module's docstring); only
    ``fields`` when given (a frame keeps what its screens read), named ``<prefix><field>``."""
    if isinstance(rows, Rows):  # the records as held, without making a Row of each
        problems = rows.problems
        numbers = [number for number in range(1, len(rows.records) + 1) if number not in problems] \
            if problems else list(range(1, len(rows.records) + 1))
        records: Sequence[Any] = [rows.records[number - 1] for number in numbers] if problems else rows.records
    else:
        readable = [row for row in rows if not row.problems]
        numbers = [row.number for row in readable]
        records = [row.values for row in readable]
    columns: list[pl.Series] = [pl.Series("__row", numbers, dtype=pl.Int64)]
    # A record is a tuple in column order (iterating it as a mapping would give the names).
    transposed: list[Sequence[Any]] = list(zip(*map(tuple.__iter__, records), strict=True)) if records else []
    for name, kind in table.fields.items():
        if fields is not None and name not in fields:
            continue
        position = table.positions[name]
        values = transposed[position] if transposed else []
        columns += series(f"{prefix}{name}", kind, values)
    return pl.DataFrame(columns)


def related_frame(fact: str, table: Table, index: Mapping[Any, Any], parts: int,
                  fields: Collection[str] | None = None) -> pl.DataFrame:
    """The rows of a unique-keyed table by key, as a relation sees them (the index the reference
    looks up), with columns ``<fact>.<field>``, the key parts ``<fact>.__k<n>`` and
    ``<fact>.__present``."""
    keys = list(index)
    records = list(index.values())
    columns: list[pl.Series] = []
    if None in keys or (parts > 1 and any(not isinstance(k, tuple) or len(k) != parts for k in keys)):
        raise Unsupported(f"the keys of {table.name} do not fit the relation {fact}")
    transposed = list(zip(*map(tuple.__iter__, records), strict=True)) if records else []
    for name, kind in table.fields.items():
        if fields is not None and name not in fields:
            continue
        values = transposed[table.positions[name]] if transposed else []
        columns += series(f"{fact}.{name}", kind, values)
    for part in range(parts):
        values = [key[part] for key in keys] if parts > 1 else keys
        columns.append(pl.Series(f"{fact}.__k{part}", values, strict=False))
    columns.append(pl.Series(f"{fact}.__present", [True] * len(keys), dtype=pl.Boolean))
    return pl.DataFrame(columns)


def mapped(values: pl.Series, function: Any, dtype: Any) -> pl.Series:
    """A Python function applied once per distinct value (labels -> school year starts)."""
    distinct = values.unique().to_list()
    return values.replace_strict(distinct, [function(value) for value in distinct], default=None,
                                 return_dtype=dtype)
