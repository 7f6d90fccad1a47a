"""Report + the payouts file -> ``payable`` and ``held`` files for payroll (``validate --split DIR``).

``DIR/payable.csv`` holds the input payout rows that pass (no error finding), with the input's
columns in the input's order, each cell as the file had it; ``DIR/held.csv`` the rest (rows with
an error finding, and rows that could not be read), with two columns appended: ``rules`` (the
ids of the error findings) and ``messages``. With ``--period``, the payouts outside the period
(history: read, not judged) go to ``DIR/history.csv``. So payable + held (+ history) = the
rows in, always, in input order within each file.

The files are in the payouts file's format: CSV for CSV (UTF-8, the same header), XLSX for a
workbook (one sheet named ``payouts``). Input cells are copied as they are (they are the
payouts to pay); the appended cells, which the engine wrote, are neutralised against spreadsheet
formulas. Each file is written to a temporary file in DIR and renamed over its name only when
complete, so a failed run leaves the files of the last one whole.
"""

from __future__ import annotations

import csv
import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.model import Decision, Report, Severity, Status
from mentorrules.reports.csv import neutralise

TABLE = "payouts"
FORMATS = (".csv", ".xlsx")
APPENDED = ("rules", "messages")


@dataclass(frozen=True)
class Split:
    """What ``--split`` wrote: the files, and the rows in each."""

    payable: int
    held: int
    history: int
    files: tuple[Path, ...]


def source_of(report: Report) -> tuple[Path, str | None]:
    """The payouts file of a report and, for a workbook, its sheet; MR414 when it cannot be split.

    >>> source_of(Report("0", (), "sha256:0", (), sources={"payouts": "data/payouts.csv"}))
    (PosixPath('data/payouts.csv'), None)
    >>> source_of(Report("0", (), "sha256:0", (), sources={"payouts": "data/run.xlsx[Payouts]"}))
    (PosixPath('data/run.xlsx'), 'Payouts')
    """
    source = report.sources.get(TABLE)
    if source is None:
        raise _problem("no payouts table was given", None)
    sheet = None
    if source.endswith("]") and "[" in source:
        source, sheet = source[:-1].rsplit("[", 1)
    path = Path(source)
    if path.suffix.lower() not in FORMATS:
        raise _problem(f"the payouts come from {source}, which is not a CSV or XLSX file", source)
    return path, sheet


def check_folder(folder: Path) -> None:
    """Refuse a --split folder that does not exist (said before the run, not after)."""
    if not folder.is_dir():
        raise MentorRulesError([Problem("MR414", "--split names a folder that does not exist", Location(str(folder)),
                                        hint=f"create it first: mkdir -p {folder}")])


def write(report: Report, folder: Path) -> Split:
    """Write the files; raise :class:`MentorRulesError` (MR414) when they cannot be."""
    path, sheet = source_of(report)
    decisions = report.records_of(TABLE)
    try:
        if path.suffix.lower() == ".csv":
            header, rows = _csv_rows(path)
        else:
            header, rows = _sheet_rows(path, sheet)
        groups = _sorted(header, rows, decisions, path)
        suffix = path.suffix.lower()
        writer = _write_csv if suffix == ".csv" else _write_xlsx
        written = []
        for name, (columns, kept) in groups.items():
            if name == "history" and not kept and report.summary.get("period") is None:
                continue
            target = folder / f"{name}{suffix}"
            _atomic(target, functools.partial(_call, writer, columns=columns, rows=kept))
            written.append(target)
    except OSError as error:
        raise MentorRulesError([Problem("MR414", f"cannot write the split files: {error.strerror or error}",
                                        Location(str(folder)))]) from None
    return Split(len(groups["payable"][1]), len(groups["held"][1]), len(groups["history"][1]), tuple(written))


def _sorted(header: list[str], rows: Sequence[list[Any]], decisions: Sequence[Decision],
            path: Path) -> dict[str, tuple[list[str], list[list[Any]]]]:
    if len(rows) != len(decisions):  # the file changed since it was read
        raise _problem(f"{path} has {len(rows)} rows now, the run read {len(decisions)}: was it changed?",
                       str(path))
    payable: list[list[Any]] = []
    held: list[list[Any]] = []
    history: list[list[Any]] = []
    for cells, decision in zip(rows, decisions, strict=True):
        if decision.status is Status.HISTORY:
            history.append(cells)
        elif decision.status is Status.PASS:
            payable.append(cells)
        else:
            errors = [finding for finding in decision.findings if finding.severity is Severity.ERROR]
            held.append([*cells, *[""] * (len(header) - len(cells)),
                         neutralise(";".join(dict.fromkeys(finding.rule for finding in errors))),
                         neutralise(" | ".join(f"{finding.rule}: {finding.message}" for finding in errors))])
    return {"payable": (header, payable), "held": ([*header, *APPENDED], held), "history": (header, history)}


# -- reading the rows as the file has them --------------------------------------------------------
def _csv_rows(path: Path) -> tuple[list[str], list[list[Any]]]:
    """The header and the data rows of a CSV file, numbered as the reader numbers them (blank
    lines skipped; a line that is not CSV stays a row, with what could be read of it)."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=False)
        header = next(reader, [])
        rows: list[list[Any]] = []
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error:
                rows.append([])
                continue
            if not cells or (len(cells) == 1 and not cells[0]):
                continue
            rows.append(cells)
    return header, rows


def _sheet_rows(path: Path, sheet: str | None) -> tuple[list[str], list[list[Any]]]:
    """The header and the data rows of a workbook's payouts sheet (empty rows skipped, as read)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        book_sheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        cells = book_sheet.iter_rows(values_only=True)
        header = ["" if value is None else str(value) for value in next(cells, ())]
        while header and not header[-1].strip():
            header.pop()
        rows = [list(row[:max(len(header), len(row))]) for row in cells
                if not all(value is None or value == "" for value in row)]
    finally:
        workbook.close()
    return header, rows


# -- writing --------------------------------------------------------------------------------------
def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def _write_xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(TABLE)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _call(writer: Callable[[Path, list[str], list[list[Any]]], None], path: Path, *, columns: list[str],
          rows: list[list[Any]]) -> None:
    writer(path, columns, rows)


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Write through a unique temporary file in the target's folder, renamed over it when complete."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    umask = os.umask(0)  # mkstemp makes the file private; give it the mode a new file gets
    os.umask(umask)
    temporary.chmod(0o666 & ~umask)
    try:
        write(temporary)
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _problem(message: str, where: str | None) -> MentorRulesError:
    return MentorRulesError([Problem(
        "MR414", f"--split cannot split the payouts: {message}", Location(where),
        expected="a payouts file in CSV or XLSX (the split files are written in its format)",
        hint="give the payouts as payouts.csv or as a payouts sheet of a workbook")])

