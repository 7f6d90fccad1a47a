"""Report (+ the input rows) -> an Excel workbook: Summary, Findings, one sheet per input table.

- **Summary**: engine version, packs, digest and inputs; rows by status; findings by
  severity, by rule, and (when input rows are given) by district and by program.
- **Findings**: one line per finding (table, row, key, status, rule, severity, message,
  source), then the rule's title, the parameter values used, the related rows, and the payee,
  district and amount of its row (a group record's district is its finding's).
- The Summary leads with ``INCOMPLETE: ...`` when rules did not run, and shows the money
  (``summary.money``); every sheet prints landscape, fit to width, its header on every page.
- **One sheet per input table**: the report's row number, status and rules found (headed
  ``report row``, ``report status``, ``report rules``, so that they cannot be taken for an input
  column such as pairings' ``status``), then the input columns as given, one line per input row
  in input order; a cell that could not be read shows as it was written. Without
  ``input_rows`` the sheet has the row number, key, status and rules only.

The workbook is marked as a mentorrules report (its ``keywords`` document property), so that a
report saved into a data folder is never read back as input.

Safe to open: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is prefixed with ``'`` (:func:`mentorrules.reports.csv.neutralise`, OWASP CSV injection), so
Excel shows it and never runs it. Values that are not text keep their type: ``Decimal`` and
other numbers are number cells (``-5.00`` stays the number -5, with two decimals shown), dates
are date cells. Three things Excel cannot hold are changed visibly rather than lost silently:
control characters become U+FFFD, a cell longer than 32,767 characters is cut with a note of
its length, and a number with more than 15 significant digits is written as text.

The workbook is written in openpyxl's write-only mode, so memory stays flat on large files,
and carries no time of writing (:data:`FIXED_TIME` instead), so the same report is the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from mentorrules.inputs.workbooks import REPORT_MARK
from mentorrules.model import Decision, Report, Status
from mentorrules.reports import files, tally
from mentorrules.reports.csv import neutralise
from mentorrules.reports.tally import InputRows

__all__ = ["FINDINGS_HEADER", "REPORT_COLUMNS", "write"]

FINDINGS_HEADER = ("table", "row", "key", "status", "rule", "severity", "message", "source",
                   "rule title", "parameters", "related rows", "payee", "district", "amount", "line")
MAX_CELL = 32_767  # Excel's limit on the characters in one cell
MAX_DIGITS = 15  # Excel keeps 15 significant digits; more would be rounded without a word
RESERVED = ("Summary", "Findings")
REPORT_COLUMNS = ("report row", "report status", "report rules")  # before the input columns

_BOLD = Font(bold=True)
_HEADING = Font(bold=True, size=14)
_ALARM = Font(bold=True, size=12, color="B3261E")
_LINK = Font(color="1F5F99", underline="single")
_HEADER_FILL = PatternFill("solid", fgColor="EEF1F5")
_STATUS_FILL = {Status.FAIL: PatternFill("solid", fgColor="FDECEA"),
                Status.UNREADABLE: PatternFill("solid", fgColor="FFF4D6")}
_WRAP = Alignment(wrap_text=True, vertical="top")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
# The time written into every report (document properties, zip entries): the same report is
# the same bytes whenever it is written. The earliest time a zip entry can carry.
FIXED_TIME = dt.datetime(1980, 1, 1)


def write(report: Report, path: Path, input_rows: InputRows | None = None,
          titles: Mapping[str, str] | None = None, run: Mapping[str, str] | None = None) -> None:
    """Write the workbook to ``path`` (replacing it when whole; a read-only file is refused);
    ``run`` adds lines to the Summary (run on, as of).

    A failure part-way (a full disk, a signal) leaves openpyxl's write-only sheets open, and
    each would print "Exception ignored ..." when collected: the failure is raised alone, after
    they are collected quietly.
    """
    files.check_target(path)
    failure: BaseException | None = None
    with files.unraisable_quiet():
        try:
            _write(report, path, input_rows or {}, titles or {}, run)
        except BaseException as error:  # raised again below, without what it holds
            error.__traceback__ = None  # let go of the frames (and the workbook) it holds
            failure = files.quiet_failure(error) if isinstance(error, OSError) else error
        files.collect_quietly()
    if failure is not None:
        raise failure


def _write(report: Report, path: Path, input_rows: InputRows, titles: Mapping[str, str],
           run: Mapping[str, str] | None) -> None:
    book = Workbook(write_only=True)
    book.properties.keywords = REPORT_MARK
    book.properties.title = "mentorrules report"
    book.properties.creator = f"mentorrules {report.version}"
    _summary(book, report, input_rows, titles, run or {})
    _findings(book, report, titles, input_rows)
    used = {name.lower() for name in RESERVED}
    tables = list(dict.fromkeys([*(d.table for d in report.decisions), *input_rows]))
    for table in tables:
        name = _sheet_name(table, used)
        used.add(name.lower())
        _table(book, name, report.records_of(table), input_rows.get(table))
    book.properties.created = FIXED_TIME
    # Written beside the target and moved over it at the end (reports/files.py): a failure or a
    # signal leaves any earlier report whole, and no half-written file behind.
    with files.scratch_beside(path) as raw, files.temporary_beside(path) as settled:
        book.save(raw)
        _settle(raw, settled)


def _settle(written: Path, path: Path) -> None:
    """Copy the workbook openpyxl wrote to ``path`` with nothing of the time of writing in it.

    openpyxl stamps the ``modified`` document property and every zip entry with the current
    time; here the entries get :data:`FIXED_TIME` and ``modified`` the same fixed ``created``,
    so that the same report is the same bytes.
    """
    stamp = FIXED_TIME.timetuple()[:6]
    with zipfile.ZipFile(written) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type, info.external_attr = entry.compress_type, entry.external_attr
            if entry.filename == "docProps/core.xml":
                text = source.read(entry).decode("utf-8")
                text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rf"\g<1>{FIXED_TIME.isoformat()}Z\g<2>", text)
                target.writestr(info, text.encode("utf-8"))
                continue
            # Zip64 only where a part needs it: Excel refuses Zip64 headers it does not expect.
            large = entry.file_size > zipfile.ZIP64_LIMIT
            with source.open(entry) as reading, target.open(info, "w", force_zip64=large) as writing:
                shutil.copyfileobj(reading, writing, 1 << 20)


# -- sheets -------------------------------------------------------------------------------------
def _summary(book: Workbook, report: Report, input_rows: InputRows, titles: Mapping[str, str],
             run: Mapping[str, str]) -> None:
    sheet = book.create_sheet("Summary")
    _widths(sheet, (34, 60, 12, 12, 12))
    _page(sheet)
    summary = report.summary
    headline = tally.incomplete(report)
    period = summary.get("period")
    lines: list[list[Any]] = [
        [_styled(sheet, "mentorrules report", _HEADING)],
        *([[_styled(sheet, headline, _ALARM)]] if headline else []),
        ["engine", f"mentorrules {report.version}"],
        ["packs", ", ".join(f"{name} {version}" for name, version in report.packs)],
        ["digest", report.digest],
        *[[label, value] for label, value in run.items()],
        *([["period", f"{period['text']} ({period['start']} to {period['end']}); payouts before it are "
                      "history: read, not judged"]] if period else []),
        *[[f"input {table}", source] for table, source in report.sources.items()],
        *([["masked", ", ".join(report.masked)]] if report.masked else []),
        *_money_lines(sheet, report),
        *([[], _header(sheet, (tally.ILLUSTRATIVE_HEADING,))] if report.illustrative else []),
        *[[line] for line in tally.illustrative(report)],
        [],
        _header(sheet, ("outcome", "count")),
        *[[label, summary[label]] for label in ("rows", "pass", "fail", "unreadable", "history") if label in summary],
        *[[f"{severity} findings", count] for severity, count in summary["findings"].items()],
        *[[f"not checked (no {tables})", ", ".join(rules)] for tables, rules in tally.not_checked(report)],
        [],
        _header(sheet, ("rule", "title", "severity", "findings", "rows")),
        *[[count.rule, _title(titles, count.rule), count.severity, count.findings, count.rows]
          for count in tally.by_rule(report)],
    ]
    if input_rows:
        for column in ("district", "program"):
            lines += [[], _header(sheet, (column, "rows", "fail or error", "findings"))]
            lines += [[count.value, count.rows, count.failing, count.findings]
                      for count in tally.by_column(report, input_rows, column)]
    for line in lines:
        sheet.append([value if isinstance(value, Cell) else _cell(sheet, value) for value in line])


def _money_lines(sheet: Any, report: Report) -> list[list[Any]]:
    """The money of the run (summary.money): totals, held by rule, district, ..., group gaps."""
    figures = tally.money(report)
    if not figures:
        return []
    lines: list[list[Any]] = [[], _header(sheet, ("money (USD)", "amount", "rows"))]
    lines += [[line.label.strip(), Decimal(line.amount), line.rows] for line in figures]
    for label, split in tally.held_by(report):
        if split:
            lines += [[], _header(sheet, (f"held by {label}", "amount"))]
            lines += [[key, Decimal(amount)] for key, amount in split]
    gaps = tally.gaps(report)
    if gaps:
        lines += [[], _header(sheet, ("group finding", "record", "district", "shortfall", "excess"))]
        lines += [[gap["rule"], gap["key"], gap["district"], Decimal(gap["shortfall"]) if "shortfall" in gap else None,
                   Decimal(gap["excess"]) if "excess" in gap else None] for gap in gaps]
    return lines


def _findings(book: Workbook, report: Report, titles: Mapping[str, str], input_rows: InputRows) -> None:
    sheet = book.create_sheet("Findings")
    _widths(sheet, (12, 7, 16, 8, 14, 9, 60, 50, 40, 40, 24, 12, 18, 12, 7))
    _frame(sheet, len(FINDINGS_HEADER), sum(len(d.findings) for d in report.records))
    sheet.append(_header(sheet, FINDINGS_HEADER))
    for decision in report.records:
        payee = _input(input_rows, decision, "payee_id")
        district = _input(input_rows, decision, "district")
        amount = _input(input_rows, decision, "amount") if decision.table == "payouts" else None
        for finding in decision.findings:
            source = _cell(sheet, str(finding.source) if finding.source else None)
            url = finding.source.url if finding.source else None
            # Only web links become hyperlinks; anything else (javascript:, file:) stays text.
            if url and url.lower().startswith(("http://", "https://")):
                source.hyperlink = url
                source.font = _LINK
            sheet.append([
                _cell(sheet, decision.table), decision.row, _cell(sheet, decision.key),
                _status(sheet, decision.status), _cell(sheet, finding.rule), finding.severity.value,
                _cell(sheet, finding.message, wrap=True), source, _cell(sheet, _title(titles, finding.rule)),
                _cell(sheet, "; ".join(finding.parameters) or None), _cell(sheet, ", ".join(finding.rows) or None),
                _cell(sheet, payee), _cell(sheet, district or finding.district), _cell(sheet, amount),
                decision.line,  # the row as the input file or sheet numbers it
            ])


def _input(input_rows: InputRows, decision: Decision, column: str) -> Any:
    """The input value of a column on the decision's row, typed (an amount stays a number), or None."""
    rows = input_rows.get(decision.table, ())
    if not 0 < decision.row <= len(rows):
        return None
    value = rows[decision.row - 1].get(column)
    return None if value == "" else value


def _table(book: Workbook, name: str, decisions: Sequence[Decision],
           rows: Sequence[Mapping[str, Any]] | None) -> None:
    sheet = book.create_sheet(name)
    by_row = {decision.row: decision for decision in decisions}
    if rows is None:
        header: list[str] = ["row", "key", "status", "rules"]
        _widths(sheet, (7, 20, 8, 30))
        _frame(sheet, len(header), len(decisions))
        sheet.append(_header(sheet, header))
        for decision in decisions:
            sheet.append([decision.row, _cell(sheet, decision.key), _status(sheet, decision.status),
                          _cell(sheet, _rules(decision))])
        return
    columns = list(dict.fromkeys(column for row in rows for column in row))
    header = [*REPORT_COLUMNS, *columns]
    _widths(sheet, (7, 8, 24, *(14 for _ in columns)))
    _frame(sheet, len(header), len(rows))
    sheet.append(_header(sheet, header))
    for number, row in enumerate(rows, start=1):
        found = by_row.get(number)
        sheet.append([number, _status(sheet, found.status) if found else None,
                      _cell(sheet, _rules(found) if found else None),
                      *(_cell(sheet, row.get(column)) for column in columns)])


# -- cells --------------------------------------------------------------------------------------
def _cell(sheet: Any, value: Any, wrap: bool = False) -> Any:
    """A write-only cell holding ``value`` with the type Excel should see."""
    cell = WriteOnlyCell(sheet, value=None)
    if value is None or isinstance(value, bool):
        cell.value = value
    elif isinstance(value, Decimal | int | float):
        _number(cell, value)
    elif isinstance(value, dt.datetime):
        # Excel has no time zones: an aware time is shown in UTC, and the format says so.
        aware = value.tzinfo is not None
        cell.value = value.astimezone(dt.UTC).replace(tzinfo=None) if aware else value
        cell.number_format = 'yyyy-mm-dd hh:mm:ss"Z"' if aware else "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, dt.date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, dt.time):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = "hh:mm:ss"
    elif isinstance(value, str):
        cell.value = _text(value)
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        cell.value = _text(", ".join(str(item) for item in value))
    else:
        cell.value = _text(str(value))
    if wrap:
        cell.alignment = _WRAP
    return cell


def _number(cell: Any, value: Decimal | int | float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        cell.value = _text(str(value))
        return
    exact = Decimal(value) if isinstance(value, int) else Decimal(str(value))
    if not exact.is_finite() or len(exact.as_tuple().digits) > MAX_DIGITS:
        cell.value = _text(str(value))
        return
    cell.value = value
    exponent = exact.as_tuple().exponent
    if isinstance(value, Decimal) and isinstance(exponent, int) and exponent < 0:
        # Keep the places the input gave: 1000.00 reads as money, not as 1000.
        cell.number_format = "0." + "0" * min(-exponent, 10)


def _text(value: str) -> str:
    text = neutralise(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    if len(text) > MAX_CELL:
        note = f" [cut: {len(text):,} characters]"
        text = text[: MAX_CELL - len(note)] + note
    return text


def _status(sheet: Any, status: Status) -> Any:
    cell = WriteOnlyCell(sheet, value=status.value)
    if status in _STATUS_FILL:
        cell.fill = _STATUS_FILL[status]
    return cell


def _styled(sheet: Any, value: str, font: Font) -> Any:
    cell = WriteOnlyCell(sheet, value=_text(value))
    cell.font = font
    return cell


def _header(sheet: Any, names: Iterable[str]) -> list[Any]:
    cells = []
    for name in names:
        cell = _styled(sheet, name, _BOLD)
        cell.fill = _HEADER_FILL
        cells.append(cell)
    return cells


def _title(titles: Mapping[str, str], rule: str) -> str:
    return titles.get(rule, "row could not be read" if rule.startswith("MR") else "")


def _rules(decision: Decision) -> str | None:
    return "; ".join(finding.rule for finding in decision.findings) or None


# -- sheet layout -------------------------------------------------------------------------------
def _widths(sheet: Any, widths: Iterable[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _frame(sheet: Any, columns: int, rows: int) -> None:
    """Freeze the header and put a filter on it (write-only sheets need both before any row);
    print it landscape, fit to the page's width, with the header repeated on every page."""
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(columns, 1))}{rows + 1}"
    _page(sheet)
    sheet.print_title_rows = "1:1"


def _page(sheet: Any) -> None:
    """Landscape, as wide as the page, as many pages long as it takes."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def _sheet_name(table: str, used: set[str]) -> str:
    """A valid, unused sheet name for a table: at most 31 characters, none of []:*?/\\.

    >>> _sheet_name("payouts", {"summary", "findings"}), _sheet_name("Findings", {"summary", "findings"})
    ('payouts', 'Findings (2)')
    """
    base = _SHEET_NAME_BAD.sub("_", table).strip("'") or "table"
    name = base[:31]
    number = 2
    while name.lower() in used:
        suffix = f" ({number})"
        name = base[: 31 - len(suffix)] + suffix
        number += 1
    return name
