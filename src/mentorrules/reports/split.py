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

import contextlib
import csv
import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.model import Report, Severity, Status
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
    """Write the files; raise :class:`MentorRulesError` (MR414) when they cannot be.

    The payouts file and the decisions are read side by side, row by row, and each row goes
    straight to its file: memory stays flat however many rows there are.
    """
    path, sheet = source_of(report)
    suffix = path.suffix.lower()
    names = ["payable", "held", *(["history"] if report.summary.get("period") is not None else [])]
    sinks: dict[str, _Sink] = {}
    try:
        with _rows_of(path, sheet) as (header, rows):
            for name in names:
                columns = [*header, *APPENDED] if name == "held" else header
                sinks[name] = _Sink(folder / f"{name}{suffix}", columns)
            decisions = (decision for decision in report.decisions if decision.table == TABLE)
            for cells, decision in itertools.zip_longest(rows, decisions):
                if cells is None or decision is None:  # the file changed since it was read
                    raise _problem(f"{path} does not have the rows the run read: was it changed?", str(path))
                if decision.status is Status.HISTORY and "history" in sinks:
                    sinks["history"].add(cells)
                elif decision.status is Status.PASS:
                    sinks["payable"].add(cells)
                else:
                    errors = [finding for finding in decision.findings if finding.severity is Severity.ERROR]
                    sinks["held"].add([*cells, *[""] * (len(header) - len(cells)),
                                       neutralise(";".join(dict.fromkeys(finding.rule for finding in errors))),
                                       neutralise(" | ".join(f"{finding.rule}: {finding.message}"
                                                             for finding in errors))])
        for sink in sinks.values():
            sink.finish()
        for sink in sinks.values():  # renamed only when every file is complete
            sink.commit()
    except OSError as error:
        raise MentorRulesError([Problem("MR414", f"cannot write the split files: {error.strerror or error}",
                                        Location(str(folder)))]) from None
    finally:
        for sink in sinks.values():
            sink.discard()
    counts = {name: sink.rows for name, sink in sinks.items()}
    return Split(counts["payable"], counts["held"], counts.get("history", 0),
                 tuple(sink.target for sink in sinks.values()))


# -- reading the rows as the file has them --------------------------------------------------------
@contextlib.contextmanager
def _rows_of(path: Path, sheet: str | None) -> Iterator[tuple[list[str], Iterator[list[Any]]]]:
    """The header and the data rows of the payouts file, numbered as the reader numbers them."""
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=False)
            yield next(reader, []), _csv_rows(reader)
        return
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        book_sheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        cells = book_sheet.iter_rows(values_only=True)
        header = ["" if value is None else str(value) for value in next(cells, ())]
        while header and not header[-1].strip():
            header.pop()
        # Empty rows are skipped, as the reader skips them.
        yield header, (list(row) for row in cells if not all(value is None or value == "" for value in row))
    finally:
        workbook.close()


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[list[Any]]:
    """Blank lines skipped; a line that is not CSV stays a row (empty), as the reader counts it."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield []
            continue
        if not cells or (len(cells) == 1 and not cells[0]):
            continue
        yield cells


# -- writing --------------------------------------------------------------------------------------
class _Sink:
    """One split file, written row by row to a unique temporary file in its folder and renamed
    over its name by :meth:`commit`; :meth:`discard` removes what was not committed."""

    def __init__(self, target: Path, header: list[str]) -> None:
        self.target = target
        self.rows = 0
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(handle)
        self.temporary: Path | None = Path(name)
        umask = os.umask(0)  # mkstemp makes the file private; give it the mode a new file gets
        os.umask(umask)
        self.temporary.chmod(0o666 & ~umask)
        self.xlsx = target.suffix.lower() == ".xlsx"
        if self.xlsx:
            from openpyxl import Workbook

            self.book: Any = Workbook(write_only=True)
            self.sheet = self.book.create_sheet(TABLE)
            self.sheet.append(header)
        else:
            self.handle = self.temporary.open("w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.handle, lineterminator="\n")
            self.writer.writerow(header)

    def add(self, row: list[Any]) -> None:
        self.rows += 1
        if self.xlsx:
            self.sheet.append(row)
        else:
            self.writer.writerow(row)

    def finish(self) -> None:
        assert self.temporary is not None
        if self.xlsx:
            self.book.save(self.temporary)
        else:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()

    def commit(self) -> None:
        assert self.temporary is not None
        self.temporary.replace(self.target)
        self.temporary = None

    def discard(self) -> None:
        if not self.xlsx and not self.handle.closed:
            self.handle.close()
        if self.temporary is not None:
            self.temporary.unlink(missing_ok=True)
            self.temporary = None


def _problem(message: str, where: str | None) -> MentorRulesError:
    return MentorRulesError([Problem(
        "MR414", f"--split cannot split the payouts: {message}", Location(where),
        expected="a payouts file in CSV or XLSX (the split files are written in its format)",
        hint="give the payouts as payouts.csv or as a payouts sheet of a workbook")])

