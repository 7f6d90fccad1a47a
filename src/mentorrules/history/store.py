"""The run history: one SQLite file that keeps every recorded ``validate`` run.

A run is written in one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a run killed while it is
written (SIGINT, SIGTERM, SIGKILL, a power cut) leaves no trace, never half a run, because SQLite
discards a transaction that was not committed. The file is in WAL mode, so that readers
(``mentorrules history``) never wait for a writer, and two writers wait for each other (busy
timeout) instead of failing. The schema's version is ``PRAGMA user_version``; the file says it is
a mentorrules history with ``PRAGMA application_id``.

    >>> import tempfile
    >>> from mentorrules.model import Report
    >>> folder = Path(tempfile.mkdtemp())
    >>> with History.open(folder / "history.sqlite", create=True) as history:
    ...     run = history.record(Report("0.1.0", (("core", "0.1.0"),), "sha256:0", ()), {}, dt.date(2026, 6, 30))
    ...     [stored.id for stored in history.runs()]
    [1]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.inputs.reading import Row
from mentorrules.model import Report

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4D524831  # "MRH1": this file is a mentorrules run history
DEFAULT_PATH = Path(".mentorrules") / "history.sqlite"
BUSY_SECONDS = 60.0  # how long a writer waits for another writer of the same file
MONEY_TABLE, AMOUNT_COLUMN = "payouts", "amount"  # the money a run pays or holds
MASKED = "[masked]"  # as the reports write a masked value
# Statuses that hold a row's money ("error" is what runs recorded before "unreadable" wrote).
FAILING = frozenset({"fail", "unreadable", "error"})

_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    recorded_utc TEXT NOT NULL,      -- when the run was recorded, ISO 8601 in UTC
    engine_version TEXT NOT NULL,
    digest TEXT NOT NULL,            -- the rules and parameters in force
    packs TEXT NOT NULL,             -- JSON: [[name, version], ...]
    as_of TEXT NOT NULL,             -- the date the run judged undated rows by
    inputs_key TEXT NOT NULL,        -- the input files' names: runs of the same inputs share it
    summary TEXT NOT NULL,           -- JSON: the report's summary
    masked TEXT NOT NULL             -- JSON: the personal columns masked in what is stored
);
CREATE INDEX runs_by_inputs ON runs (inputs_key, id);
CREATE TABLE inputs (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    table_name TEXT NOT NULL,
    source TEXT NOT NULL,            -- the file (or name) the table was read from
    sha256 TEXT                      -- of the file's bytes, NULL for rows given by a program
);
CREATE INDEX inputs_by_run ON inputs (run_id);
CREATE TABLE records (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    position INTEGER NOT NULL,       -- the record's place in the report
    table_name TEXT NOT NULL,
    row INTEGER NOT NULL,
    key TEXT NOT NULL,
    occurrence INTEGER NOT NULL,     -- 1 for the first row of its table with this key, 2 for the next
    status TEXT NOT NULL,
    rules TEXT NOT NULL,             -- JSON: the rule id of each finding
    severities TEXT NOT NULL,        -- JSON: the severity of each finding
    messages TEXT NOT NULL,          -- JSON: the message of each finding
    amount TEXT,                     -- the row's amount exactly as read, NULL when it has none
    PRIMARY KEY (run_id, table_name, key, occurrence)  -- how runs are matched row for row
) WITHOUT ROWID;
CREATE INDEX records_failing ON records (run_id) WHERE status IN ('fail', 'unreadable', 'error');
"""


def _problem(code: str, message: str, path: Path, hint: str | None = None) -> MentorRulesError:
    return MentorRulesError([Problem(code, message, Location(str(path)), hint=hint)])


@dataclass(frozen=True)
class Input:
    """A table of a recorded run: where it was read from and the sha256 of that file."""

    table: str
    source: str
    sha256: str | None

    @property
    def name(self) -> str:
        """The file's name without its folder (``payouts.csv``)."""
        return Path(self.source).name or self.source


@dataclass(frozen=True)
class RunInfo:
    """One recorded run, without its records."""

    id: int
    recorded: dt.datetime
    engine_version: str
    digest: str
    packs: tuple[tuple[str, str], ...]
    as_of: dt.date
    inputs: tuple[Input, ...]
    summary: Mapping[str, Any]
    masked: tuple[str, ...]

    @property
    def when(self) -> str:
        """``2026-06-30 14:05 UTC``."""
        return self.recorded.strftime("%Y-%m-%d %H:%M UTC")

    @property
    def held(self) -> str | None:
        """The amount held, as the run's summary states it (``summary.money.held``), if it does."""
        money = self.summary.get("money")
        held = money.get("held") if isinstance(money, Mapping) else None
        if isinstance(held, Mapping):  # {"amount": ..., ...}
            held = held.get("amount", held.get("total"))
        return None if held is None else str(held)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "recorded": self.recorded.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "mentorrules": self.engine_version, "digest": self.digest,
                "packs": [{"name": name, "version": version} for name, version in self.packs],
                "as_of": self.as_of.isoformat(),
                "inputs": [{"table": item.table, "source": item.source, "sha256": item.sha256}
                           for item in self.inputs],
                "summary": dict(self.summary), **({"masked": list(self.masked)} if self.masked else {})}


@dataclass(frozen=True)
class StoredRecord:
    """One record of a recorded run: a row's outcome, its findings and its amount."""

    table: str
    row: int
    key: str
    occurrence: int
    status: str
    rules: tuple[str, ...]
    messages: tuple[str, ...]
    amount: str | None
    severities: tuple[str, ...] = ()
    position: int = 0  # the record's place in its run's report

    @property
    def held(self) -> bool:
        """True for a payout that fails or could not be read: its money is held."""
        return self.table == MONEY_TABLE and self.failing

    @property
    def failing(self) -> bool:
        """True for a row that fails or could not be read: its money is held."""
        return self.status in FAILING

    @property
    def money(self) -> Decimal | None:
        """The amount as a Decimal; None when there is none, it is masked or not a number."""
        if self.amount is None:
            return None
        try:
            value = Decimal(self.amount)
        except InvalidOperation:
            return None
        return value if value.is_finite() else None

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "row": self.row, "key": self.key, "occurrence": self.occurrence,
                "status": self.status, "rules": list(self.rules), "messages": list(self.messages),
                "amount": self.amount}


def inputs_key(inputs: Iterable[Input]) -> str:
    """What makes two runs runs of the same inputs: each table's file name, folder left out,
    so that ``may/payouts.csv`` and ``june/payouts.csv`` are the same input month after month."""
    return json.dumps(sorted([item.table, item.name] for item in inputs))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inputs_of(sources: Mapping[str, str]) -> list[Input]:
    """Each table's source with the sha256 of its file (a workbook of several tables is hashed once)."""
    hashes: dict[str, str | None] = {}
    found = []
    for table, source in sources.items():
        if source not in hashes:
            path = Path(source)
            try:
                hashes[source] = sha256_of(path) if path.is_file() else None
            except OSError:
                hashes[source] = None
        found.append(Input(table, source, hashes[source]))
    return found


def amounts_of(tables: Mapping[str, Sequence[Row]]) -> dict[str, list[str | None]]:
    """Each payout's amount as exact text (index = row - 1), the money a run pays or holds.

    A typed amount is a Decimal, whose text is exact (``1000.00`` stays ``1000.00``); on a row that
    could not be read the cell keeps the text as written.
    """
    rows = tables.get(MONEY_TABLE)
    if rows is None:
        return {}
    amounts: list[str | None] = []
    for row in rows:
        value = row.values.get(AMOUNT_COLUMN)
        amounts.append(None if value is None else str(value))
    return {MONEY_TABLE: amounts}


def _text(text: str) -> str:
    """Text SQLite can store (UTF-8): a lone surrogate (from a JSON ``"\\ud800"``) is written
    ``\\ud800``, so that a key that cannot be encoded still matches itself from run to run."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _records(report: Report, amounts: Mapping[str, Sequence[str | None]]) -> Iterator[tuple[Any, ...]]:
    """The rows to store for the report's records, in report order, masked as the report is."""
    hide_amount = AMOUNT_COLUMN in report.masked
    occurrences: dict[tuple[str, str], int] = {}
    for position, decision in enumerate(report.records, start=1):
        occurrence = occurrences[(decision.table, decision.key)] = \
            occurrences.get((decision.table, decision.key), 0) + 1
        column = amounts.get(decision.table)
        amount = column[decision.row - 1] if column is not None and 0 < decision.row <= len(column) else None
        if hide_amount and amount is not None:
            amount = MASKED
        findings = decision.findings
        key = _text(decision.key)
        if not findings:  # most rows: no JSON to build
            yield (position, decision.table, decision.row, key, occurrence, decision.status.value,
                   "[]", "[]", "[]", amount)
            continue
        yield (position, decision.table, decision.row, key, occurrence, decision.status.value,
               json.dumps([finding.rule for finding in findings]),
               json.dumps([finding.severity.value for finding in findings]),
               json.dumps([_text(finding.message) for finding in findings], ensure_ascii=False),
               amount and _text(amount))


_COLUMNS = "table_name, row, key, occurrence, status, rules, messages, amount, severities, position"


def _stored(row: Sequence[Any]) -> StoredRecord:
    table, number, key, occurrence, status, rules, messages, amount, severities, position = row
    return StoredRecord(table, number, key, occurrence, status, tuple(json.loads(rules)), tuple(json.loads(messages)),
                        amount, tuple(json.loads(severities)), position)


class History:
    """An open run history. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = False, make_folder: bool = False) -> History:
        """Open the history at ``path``; with ``create``, make it if it is missing (and with
        ``make_folder`` its folder, as the first ``--record`` makes ``.mentorrules/``).

        Raises :class:`MentorRulesError`: MR440 when the file is missing (without ``create``), is
        not a mentorrules history, is damaged or is of a newer schema; MR441 when it cannot be
        made or written.
        """
        path = Path(path)
        if not path.exists() and not create:
            raise _problem("MR440", "there is no run history here", path,
                           hint="record a run first: mentorrules validate DATA --record "
                           "(or give the history's file with --history PATH)")
        if path.exists() and not path.is_file():
            raise _problem("MR440", "the run history is not a file", path, hint="give the history's .sqlite file")
        if create and make_folder and not path.parent.is_dir():
            try:
                path.parent.mkdir()
            except OSError as error:
                raise _problem("MR441", f"cannot make the run history's folder: {error.strerror or error}",
                               path, hint=f"{path.parent} must be a folder you can write in; or give "
                               "another file with --history PATH") from None
        if create and not path.parent.is_dir():
            raise _problem("MR441", "cannot make the run history: its folder does not exist", path,
                           hint=f"create {path.parent} first")
        mode = "rwc" if create else "rw"
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                                         timeout=BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as error:
            raise _problem("MR441", f"cannot open the run history: {error}", path) from None
        history = cls(connection, path)
        try:
            history._prepare(create)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise history._damaged(error) from None
        except MentorRulesError:
            connection.close()
            raise
        return history

    def _damaged(self, error: sqlite3.Error) -> MentorRulesError:
        text = str(error)
        if "readonly" in text or "read-only" in text or "unable to open" in text or "disk" in text:
            return _problem("MR441", f"cannot write the run history: {text}", self.path,
                            hint="check the file's and its folder's permissions and free space")
        if "locked" in text or "busy" in text:
            return _problem("MR441", f"the run history is in use: {text}", self.path,
                            hint="another mentorrules run is writing it; try again when it is done")
        return _problem("MR440", f"the run history cannot be read: {text}", self.path,
                        hint="it is not a mentorrules history or it is damaged; move it aside "
                        "(a new one is made at the next --record) or restore it from a backup")

    def _prepare(self, create: bool) -> None:
        """Check that the file is ours and of a known version; make the schema in a new file."""
        connection = self._connection
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        version, application = self._version()
        if version == 0 and application == 0 and create:
            connection.execute("BEGIN IMMEDIATE")  # two first runs at once: one makes the schema
            try:
                version, application = self._version()
                tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if version == 0 and application == 0 and tables == 0:
                    # One statement at a time: executescript() would commit the open transaction.
                    for statement in _SCHEMA.split(";\n"):
                        if statement.strip():
                            connection.execute(statement)
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            version, application = self._version()
        if application != APPLICATION_ID:
            raise _problem("MR440", "this file is not a mentorrules run history", self.path,
                           hint="give the history's file (.mentorrules/history.sqlite), or another path "
                           "for a new history")
        if version > SCHEMA_VERSION:
            raise _problem("MR440", f"the run history was written by a newer mentorrules (schema {version}, "
                           f"this one reads {SCHEMA_VERSION})", self.path, hint="upgrade mentorrules")
        if version < 1:
            raise _problem("MR440", "the run history has no schema version", self.path,
                           hint="it is damaged; move it aside or restore it from a backup")
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            # Persistent once set. Where it cannot be (a file system without shared memory), the
            # rollback journal keeps writes transactional all the same.
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")  # a recorded run survives a power cut

    def _version(self) -> tuple[int, int]:
        version = int(self._connection.execute("PRAGMA user_version").fetchone()[0])
        application = int(self._connection.execute("PRAGMA application_id").fetchone()[0])
        return version, application

    def __enter__(self) -> History:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    # -- writing --------------------------------------------------------------------------------
    def record(self, report: Report, amounts: Mapping[str, Sequence[str | None]], as_of: dt.date,
               when: dt.datetime | None = None) -> RunInfo:
        """Store the run of ``report`` in one transaction and return it as stored.

        ``amounts`` are the amounts of the rows the report is about (see :func:`amounts_of`);
        the report's masked columns are masked in what is stored, as they are in the report.
        """
        when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        inputs = inputs_of(report.sources)
        summary = json.dumps(report.summary, default=str)
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                cursor = connection.execute(
                    "INSERT INTO runs (recorded_utc, engine_version, digest, packs, as_of, inputs_key, summary, "
                    "masked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (when.strftime("%Y-%m-%dT%H:%M:%SZ"), report.version, report.digest,
                     json.dumps([list(pack) for pack in report.packs]), as_of.isoformat(), _text(inputs_key(inputs)),
                     summary, json.dumps(list(report.masked))))
                run_id = int(cursor.lastrowid or 0)
                connection.executemany("INSERT INTO inputs (run_id, table_name, source, sha256) VALUES (?, ?, ?, ?)",
                                       [(run_id, item.table, _text(item.source), item.sha256) for item in inputs])
                connection.executemany(
                    "INSERT INTO records (run_id, position, table_name, row, key, occurrence, status, rules, "
                    "severities, messages, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ((run_id, *record) for record in _records(report, amounts)))
                connection.execute("COMMIT")
            except BaseException:  # an error or an interrupt: nothing of this run stays
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise self._damaged(error) from None
        return self.run(run_id)

    # -- reading --------------------------------------------------------------------------------
    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise self._damaged(error) from None

    def runs(self) -> list[RunInfo]:
        """Every recorded run, oldest first."""
        return self._runs("SELECT * FROM runs ORDER BY id")

    def run(self, run_id: int) -> RunInfo:
        """The run with this id; MR442 when there is none."""
        found = self._runs("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not found:
            last = self._query("SELECT max(id) FROM runs")[0][0]
            raise _problem("MR442", f"there is no run {run_id} in the history", self.path,
                           hint=f"runs are numbered 1 to {last}; see mentorrules history" if last
                           else "no run is recorded yet: mentorrules validate DATA --record")
        return found[0]

    def last(self) -> RunInfo | None:
        """The newest run, or None in an empty history."""
        found = self._runs("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        return found[0] if found else None

    def previous(self, run: RunInfo) -> RunInfo | None:
        """The newest run before ``run`` of the same inputs (the same file names), if any."""
        found = self._runs("SELECT * FROM runs WHERE inputs_key = ? AND id < ? ORDER BY id DESC LIMIT 1",
                           (inputs_key(run.inputs), run.id))
        return found[0] if found else None

    def records(self, run_id: int) -> list[StoredRecord]:
        """The records of a run, in report order."""
        return [_stored(row) for row in self._query(
            f"SELECT {_COLUMNS} FROM records WHERE run_id = ? ORDER BY position", (run_id,))]

    def pairs(self, before: int, after: int) -> list[tuple[StoredRecord | None, StoredRecord | None]]:
        """Each row that fails in either run, as it was in ``before`` and is in ``after`` (None:
        not in that run), matched by table, key and occurrence; the rows that pass in both are
        never read, so that comparing two large runs costs the size of their failures."""
        width = len(_COLUMNS.split(","))
        aliased = ", ".join(f"{side}.{column.strip()}" for side in ("a", "b") for column in _COLUMNS.split(","))
        join = "a.table_name = b.table_name AND a.key = b.key AND a.occurrence = b.occurrence"
        failing = "('fail', 'unreadable', 'error')"
        found: list[tuple[StoredRecord | None, StoredRecord | None]] = []
        # Failing now (new or still failing), then failing before and not now (fixed or gone).
        for row in self._query(f"SELECT {aliased} FROM records AS b LEFT JOIN records AS a ON a.run_id = ? AND {join} "
                               f"WHERE b.run_id = ? AND b.status IN {failing}", (before, after)):
            found.append((_stored(row[:width]) if row[0] is not None else None, _stored(row[width:])))
        for row in self._query(f"SELECT {aliased} FROM records AS a LEFT JOIN records AS b ON b.run_id = ? AND {join} "
                               f"WHERE a.run_id = ? AND a.status IN {failing} "
                               f"AND (b.status IS NULL OR b.status NOT IN {failing})", (after, before)):
            found.append((_stored(row[:width]), _stored(row[width:]) if row[width] is not None else None))
        return found

    def _runs(self, sql: str, parameters: Sequence[Any] = ()) -> list[RunInfo]:
        rows = self._query(sql, parameters)
        if not rows:
            return []
        ids = [row[0] for row in rows]
        inputs: dict[int, list[Input]] = {run_id: [] for run_id in ids}
        # One run: its inputs; several (the whole list): every input, without a bound on the ids.
        where, parameters = ("WHERE run_id = ?", ids) if len(ids) == 1 else ("", [])
        for run_id, table, source, sha256 in self._query(
                f"SELECT run_id, table_name, source, sha256 FROM inputs {where} ORDER BY run_id, rowid", parameters):
            if run_id in inputs:
                inputs[run_id].append(Input(table, source, sha256))
        found = []
        for run_id, recorded, version, digest, packs, as_of, _, summary, masked in rows:
            try:
                found.append(RunInfo(
                    run_id, dt.datetime.strptime(recorded, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                    version, digest, tuple((name, pack_version) for name, pack_version in json.loads(packs)),
                    dt.date.fromisoformat(as_of), tuple(inputs[run_id]), json.loads(summary),
                    tuple(json.loads(masked))))
            except (ValueError, TypeError) as error:
                raise _problem("MR440", f"run {run_id} of the run history cannot be read: {error}", self.path,
                               hint="the file was changed by another program; restore it from a backup") from None
        return found
