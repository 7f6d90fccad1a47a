"""Report -> JSON: the contract other systems read (see docs/reference.md, "The JSON report").

Written as a stream, one record per line, so a million-row report needs no second copy in
memory; keys come in a fixed order and rows in input order, so the same inputs and packs give
byte-identical output. A table given in bulk (:class:`~mentorrules.model.TableBlock`, from the
columnar backend) has its passing rows formatted over columns by Polars, to the same bytes.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from json.encoder import encode_basestring  # the C encoder json.dumps uses
from typing import TextIO

import polars as pl

from mentorrules.model import Decision, Report, Status, TableBlock


def write(report: Report, stream: TextIO) -> None:
    """Write the report; ``json.load`` of the output equals ``report.to_dict()``."""
    stream.write(json.dumps(report.head(), ensure_ascii=False)[:-1])
    stream.write(', "records": [')
    tables: dict[str, str] = {}
    separator = "\n  "
    for block in report.records.blocks():
        if isinstance(block, TableBlock):
            separator = _write_block(block, stream, separator)
            continue
        stream.write(separator)
        separator = ",\n  "
        stream.write(_record(block, tables))
    stream.write("\n]}\n")


def _record(decision: Decision, tables: dict[str, str]) -> str:
    if decision.findings:
        return json.dumps(decision.to_dict(), ensure_ascii=False)
    # The common case, written without building a dict.
    table = tables.get(decision.table) or tables.setdefault(decision.table, encode_basestring(decision.table))
    line = "" if decision.line is None else f'"line": {decision.line}, '
    return (f'{{"table": {table}, "row": {decision.row}, {line}"key": {encode_basestring(decision.key)}, '
            f'"status": "{decision.status.value}", "findings": []}}')


def _write_block(block: TableBlock, stream: TextIO, separator: str) -> str:
    """A whole table: its passing rows formatted over columns by Polars, a chunk at a time; the
    other rows (and any key JSON must escape) as :func:`_record` writes them, put in their place."""
    table = encode_basestring(block.table)
    tables = {block.table: table}
    others = sorted(block.others)
    for start in range(0, len(block), CHUNK):
        end = min(start + CHUNK, len(block))
        texts = _passing(table, block.keys[start:end], block.lines[start:end], start + 1)
        if texts is None:  # a key Polars cannot hold: row by row
            for index in range(start, end):
                stream.write(separator)
                separator = ",\n  "
                stream.write(_record(block.others.get(index + 1) or Decision(
                    block.table, index + 1, block.keys[index], Status.PASS, (), line=block.lines[index]), tables))
            continue
        series, escaped = texts
        first, last = bisect_left(others, start + 1), bisect_left(others, end + 1)
        replaced = {number - start - 1: _record(block.others[number], tables) for number in others[first:last]}
        for index in escaped:
            if index not in replaced:
                number = start + index + 1
                replaced[index] = _record(Decision(block.table, number, block.keys[start + index], Status.PASS, (),
                                                   line=block.lines[start + index]), tables)
        if replaced:
            positions = sorted(replaced)
            series = series.scatter(positions, [replaced[position] for position in positions])
        stream.write(separator)
        separator = ",\n  "
        stream.write(series.str.join(separator).item())
    return separator


def _passing(table: str, keys: Sequence[str], lines: Sequence[int | None],
             first: int) -> tuple[pl.Series, list[int]] | None:
    """The records of passing rows as JSON text, and the positions of keys JSON must escape."""
    try:
        frame = pl.DataFrame({"key": pl.Series(keys, dtype=pl.String), "line": pl.Series(lines, dtype=pl.Int64)})
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return None
    frame = frame.with_row_index("row", offset=first)
    line = pl.col("line")
    texts = frame.select(pl.concat_str(
        pl.lit(f'{{"table": {table}, "row": '), pl.col("row").cast(pl.String), pl.lit(", "),
        pl.when(line.is_null()).then(pl.lit("")).otherwise(pl.format('"line": {}, ', line)),
        pl.lit('"key": "'), pl.col("key"), pl.lit('", "status": "pass", "findings": []}'))).to_series()
    escaped = frame.select(pl.arg_where(pl.col("key").str.contains(_ESCAPED))).to_series().to_list()
    return texts, escaped


CHUNK = 100_000  # rows formatted at once: bounds the text held in memory
_ESCAPED = r'[\x00-\x1f"\\]'  # what json.dumps escapes in a string (ensure_ascii=False)
