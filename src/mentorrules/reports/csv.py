"""Report -> CSV: one line per input row, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) are prefixed with ``'`` (OWASP CSV injection); numbers written by
the engine itself (row numbers, counts) are left as they are.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left
from typing import TextIO

import polars as pl

from mentorrules.model import Decision, Report, Status, TableBlock
from mentorrules.reports import tally

HEADER = ("table", "row", "line", "key", "status", "rules", "severities", "messages")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A text cell a spreadsheet will show, not run.

    >>> neutralise("=HYPERLINK(1)"), neutralise("-5"), neutralise("P-1")
    ("'=HYPERLINK(1)", "'-5", 'P-1')
    """
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def write(report: Report, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(HEADER)
    for block in report.records.blocks():
        if isinstance(block, TableBlock):
            _write_block(block, stream)
        else:
            writer.writerow(_cells(block))


def _cells(decision: Decision) -> list[str | int]:
    findings = decision.findings
    return [decision.table, decision.row, "" if decision.line is None else decision.line, neutralise(decision.key),
            decision.status.value,
            neutralise(";".join(finding.rule for finding in findings)),
            ";".join(finding.severity.value for finding in findings),
            neutralise(" | ".join(f"{finding.rule}: {finding.message}" for finding in findings))]


def _line(decision: Decision) -> str:
    """One decision as the csv module writes it."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(_cells(decision))
    return text.getvalue()[:-1]


def _write_block(block: TableBlock, stream: TextIO) -> None:
    """A whole table: passing rows formatted over columns by Polars, a chunk at a time; the other
    rows, and keys the csv module would quote or neutralise, as :func:`_line` writes them."""
    others = sorted(block.others)
    plain_table = _line(Decision(block.table, 1, "", Status.PASS, ())).startswith(block.table + ",")
    for start in range(0, len(block), CHUNK):
        end = min(start + CHUNK, len(block))
        keys, lines = block.keys[start:end], block.lines[start:end]
        try:
            frame = pl.DataFrame({"key": pl.Series(keys, dtype=pl.String), "line": pl.Series(lines, dtype=pl.Int64)})
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            frame = None
        if frame is None or not plain_table:  # row by row
            for index, (key, line) in enumerate(zip(keys, lines, strict=True)):
                number = start + index + 1
                decision = block.others.get(number) or Decision(block.table, number, key, Status.PASS, (), line=line)
                stream.write(_line(decision) + "\n")
            continue
        frame = frame.with_row_index("row", offset=start + 1)
        texts = frame.select(pl.concat_str(
            pl.lit(f"{block.table},"), pl.col("row").cast(pl.String), pl.lit(","),
            pl.col("line").cast(pl.String).fill_null(""), pl.lit(","), pl.col("key"), pl.lit(",pass,,,"))).to_series()
        unusual = frame.select(pl.arg_where(pl.col("key").str.contains(_UNUSUAL))).to_series().to_list()
        first, last = bisect_left(others, start + 1), bisect_left(others, end + 1)
        replaced = {number - start - 1: _line(block.others[number]) for number in others[first:last]}
        for index in unusual:
            if index not in replaced:
                replaced[index] = _line(Decision(block.table, start + index + 1, keys[index], Status.PASS, (),
                                                 line=lines[index]))
        if replaced:
            positions = sorted(replaced)
            texts = texts.scatter(positions, [replaced[position] for position in positions])
        stream.write(texts.str.join("\n").item() + "\n")


CHUNK = 100_000  # rows formatted at once: bounds the text held in memory
_UNUSUAL = r'^[=+\-@\t\r]|[,"\r\n]'  # a key the csv module quotes, or neutralise() prefixes


SUMMARY_HEADER = ("section", "name", "amount", "rows")


def write_summary(report: Report, stream: TextIO) -> None:
    """The summary as CSV (``report.summary.csv`` beside a CSV report): completeness, row counts,
    then the money of ``summary.money`` (totals, held by rule, district, program, grant and
    school year, and the shortfalls or excesses of group findings). One figure per line."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    summary = report.summary
    headline = tally.incomplete(report)
    writer.writerow(["complete", neutralise(headline) if headline else "complete", "", ""])
    for status in ("pass", "fail", "unreadable", "history"):
        if status in summary:
            writer.writerow(["rows", status, "", summary[status]])
    for line in tally.money(report):
        writer.writerow(["money", line.name, line.amount, line.rows])
    for label, split in tally.held_by(report):
        for key, amount in split:
            writer.writerow([f"held by {label}", neutralise(key), amount, ""])
    for gap in tally.gaps(report):
        kind = "shortfall" if "shortfall" in gap else "excess"
        writer.writerow([f"group {kind}", neutralise(f"{gap['rule']} {gap['key']} ({gap['district']})"), gap[kind], ""])
    for text in tally.illustrative(report):
        name, _, value = text.partition(": ")
        writer.writerow(["illustrative", neutralise(name), neutralise(value), ""])
