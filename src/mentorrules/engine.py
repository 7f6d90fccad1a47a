"""The library's front door: load packs once, then evaluate records or validate data sets.

    >>> from mentorrules import Engine
    >>> engine = Engine.load()
    >>> decision = engine.evaluate(
    ...     {"payout_id": "P-1", "payee_id": "T-1", "role": "coach", "program": "NM_PILOT",
    ...      "state": "NM", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "500.00"},
    ...     related={"people": [{"person_id": "T-1", "career_year": 1}]})
    >>> decision.status.value, [finding.rule for finding in decision.findings][:1]
    ('fail', ['STIPEND-001'])

An :class:`Engine` is immutable after :meth:`Engine.load` and safe to share between threads;
two engines in one process share nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mentorrules import __version__
from mentorrules.batch import GROUP_TABLE, BatchResult, BatchRule, Member, Unchecked
from mentorrules.batch import explain as explain_batch
from mentorrules.batch import run as run_batch
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.evaluation import (
    Decision,
    Evaluator,
    Explanation,
    Finding,
    Index,
    Status,
    Step,
    error_findings,
    periods_of,
    show,
    status_of,
)
from mentorrules.packs import Pack, discover
from mentorrules.records import DataSet, Row, read, rows_from
from mentorrules.rulebook import Rule, RuleBook, Severity, load
from mentorrules.tables import Table

if TYPE_CHECKING:
    from mentorrules.streaming import Session, SessionPool

MASK = "[masked]"
_Context = tuple[Row, str, tuple[Any, ...], "str | None", dt.date]  # a row, its key, related rows, state, date

DataSource = str | Path | Sequence[str | Path] | Mapping[str, Iterable[Mapping[str, Any]]] | DataSet


@dataclass(frozen=True)
class Report:
    """The decisions on every input row, with what produced them.

    ``to_dict()`` is the JSON report: engine version, packs, the digest of the rules and
    parameters in force, a summary and one record per input row, in input order.
    """

    version: str
    packs: tuple[tuple[str, str], ...]
    digest: str
    decisions: tuple[Decision, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[Decision, ...] = ()
    masked: tuple[str, ...] = ()  # personal fields masked in this report

    def mask(self, fields: Iterable[str], values: Iterable[str]) -> Report:
        """This report with every occurrence of the given personal values replaced by ``[masked]``.

        Decisions are made before masking; only what the report shows changes.

        >>> finding = Finding("X-1", Severity.ERROR, "Ana Ruiz <ana@x.org> has no pairing")
        >>> report = Report("0", (), "sha256:0", (Decision("payouts", 1, "P-1", Status.FAIL, (finding,)),))
        >>> report.mask(["name", "email"], ["Ana Ruiz", "ana@x.org"]).decisions[0].findings[0].message
        '[masked] <[masked]> has no pairing'
        """
        shown = sorted({value for value in values if len(value) >= 2}, key=len, reverse=True)
        if not shown:
            return replace(self, masked=tuple(fields))
        pattern = re.compile("|".join(re.escape(value) for value in shown))

        def hide(text: str) -> str:
            return pattern.sub(MASK, text)

        def hidden(decision: Decision) -> Decision:
            findings = tuple(replace(f, message=hide(f.message), rows=tuple(hide(r) for r in f.rows))
                             for f in decision.findings)
            return replace(decision, key=hide(decision.key), findings=findings)

        return replace(self, decisions=tuple(hidden(d) for d in self.decisions),
                       groups=tuple(hidden(d) for d in self.groups), masked=tuple(fields))

    @property
    def summary(self) -> dict[str, Any]:
        """Row counts by status and finding counts by severity.

        >>> Report("0", (), "sha256:0", ()).summary
        {'rows': 0, 'pass': 0, 'fail': 0, 'error': 0, 'findings': {'error': 0, 'warning': 0, 'info': 0}}
        """
        counts = dict.fromkeys(Status, 0)
        findings = {severity.value: 0 for severity in Severity}
        for decision in self.decisions:
            counts[decision.status] += 1
        for decision in self.records:
            for finding in decision.findings:
                findings[finding.severity.value] += 1
        summary: dict[str, Any] = {"rows": len(self.decisions),
                                   **{status.value: counts[status] for status in Status},
                                   "findings": findings}
        if self.groups:
            summary["groups"] = {"records": len(self.groups),
                                 "fail": sum(group.status is Status.FAIL for group in self.groups)}
        return summary

    def records_of(self, table: str) -> list[Decision]:
        """The decisions on the rows of one table, in input order."""
        return [decision for decision in self.decisions if decision.table == table]

    @property
    def records(self) -> tuple[Decision, ...]:
        """Every record of the report: the input rows in order, then group records."""
        return self.decisions + self.groups

    @property
    def clean(self) -> bool:
        """True when no row fails or is in error (the CLI then exits 0)."""
        return all(decision.status is Status.PASS for decision in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"mentorrules": self.version,
                "packs": [{"name": name, "version": version} for name, version in self.packs],
                "digest": self.digest, "summary": self.summary,
                **({"masked": list(self.masked)} if self.masked else {}),
                "records": [decision.to_dict() for decision in self.records]}


class Engine:
    """Loaded, checked and compiled rule packs. Build one with :meth:`load`."""

    def __init__(self, book: RuleBook, backend: str = "auto") -> None:
        self._book = book
        self._evaluator = Evaluator(book)
        self._batch = tuple(BatchRule(book, rule, self._evaluator.tables[rule.table].relate)
                            for rule in book.rules if rule.batch is not None)
        self._backend = backend
        self._sessions: SessionPool | None = None
        self._sessions_lock = threading.Lock()

    @classmethod
    def load(cls, packs: Iterable[str] | None = None, rules: Iterable[str | Path] = (),
             versions: Iterable[str | Path] = ()) -> Engine:
        """Load installed packs (all when ``packs`` is None, else core plus those named) and
        extra rule directories or files; raise :class:`MentorRulesError` with every problem.
        ``versions`` are rule directories that replace the installed pack they are a version of
        (for ``mentorrules diff``).

        >>> Engine.load(packs=["atlantis"])
        Traceback (most recent call last):
        ...
        mentorrules.errors.MentorRulesError: <input>: MR401 unknown pack 'atlantis'; ...
        """
        found, problems = discover(packs, [Path(path) for path in rules], [Path(path) for path in versions])
        if problems:
            raise MentorRulesError(problems)
        book = load(found)
        if book.problems:
            raise MentorRulesError(book.problems)
        return cls(book)

    @property
    def packs(self) -> tuple[Pack, ...]:
        return self._book.packs

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._book.rules

    @property
    def digest(self) -> str:
        """sha256 of the packs' names, versions, rule and parameter files."""
        return self._book.digest

    @property
    def book(self) -> RuleBook:
        return self._book

    @property
    def evaluator(self) -> Evaluator:
        return self._evaluator

    @property
    def batch_rules(self) -> tuple[BatchRule, ...]:
        return self._batch

    def session(self, as_of: dt.date | None = None) -> Session:
        """A streaming session: post facts one at a time, get findings as they become derivable.

        Sessions of one engine share one correlator (durable-rules in a supervised worker where
        it is installed, else the engine's own); ``Engine.backend`` says which.

            with engine.session() as session:
                changed = session.post("payouts", row)
                everything = session.findings()
        """
        from mentorrules.streaming import SessionPool

        with self._sessions_lock:
            if self._sessions is None:
                self._sessions = SessionPool(self, self._backend)
        return self._sessions.open(as_of)

    @property
    def backend(self) -> str:
        """The session backend: ``durable-rules`` (installed and importable) or ``python``."""
        from mentorrules.streaming import available_backend

        return available_backend() if self._backend == "auto" else self._backend

    def close(self) -> None:
        """Stop the session backend's worker, if one was started."""
        if self._sessions is not None:
            self._sessions.shutdown()

    @property
    def tables(self) -> Mapping[str, Table]:
        return self._book.tables

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts",
                 related: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
                 as_of: dt.date | None = None) -> Decision:
        """Check one record; ``related`` gives rows of other tables it may refer to (and, for
        batch rules such as yearly caps, other rows of its own table).

        Values may be text (as in CSV) or native (``Decimal``, ``date``); they are typed by
        the table contract first, and a value that cannot be typed gives status ``error``.
        """
        self._table(table)
        data = {name: list(rows) for name, rows in (related or {}).items()}
        data[table] = [record, *data.get(table, [])]
        return self.validate(data, as_of=as_of).records_of(table)[0]

    def validate(self, data: DataSource, as_of: dt.date | None = None, *,
                 mask: Iterable[str] | None = None, progress: Callable[[int], None] | None = None) -> Report:
        """Check every row of a data set: a directory, table files, or ``{table: rows}``.

        Raises :class:`MentorRulesError` for problems with whole files (exit code 2 in the CLI);
        problems with single rows are error records in the report. Findings of batch rules
        about a whole group follow the input rows as records of table ``group``.

        ``mask`` names personal fields whose values are hidden in the report (see
        :meth:`mask_defaults`); ``progress`` is called with the number of rows checked so far.
        """
        dataset = self.read(data)
        report = self._validate_dataset(dataset, as_of or dt.date.today(), progress)
        if mask is None:
            return report
        fields = tuple(mask)
        values = {str(row.values.get(name)) for rows in dataset.tables.values() for row in rows
                  for name in fields if row.values.get(name) not in (None, "")}
        return report.mask(fields, values)

    def mask_defaults(self) -> tuple[str, ...]:
        """The personal fields the loaded packs ask to mask (core: name, email)."""
        return tuple(dict.fromkeys(name for pack in self.packs for name in pack.spec.mask))

    def _validate_dataset(self, dataset: DataSet, day: dt.date,
                          progress: Callable[[int], None] | None = None) -> Report:
        indexes = self.indexes(dataset.tables)
        findings: dict[tuple[str, int], list[Finding]] = {}
        done = 0
        for name, rows in dataset.tables.items():
            contract = self._book.tables[name]
            for row in rows:
                done += 1
                if progress is not None and done % 10_000 == 0:
                    progress(done)
                if not row.problems:
                    found = self._evaluator.findings(name, row.values, self._day(contract, row, day), indexes)
                    if found:
                        findings[(name, row.number)] = found
        batch = self._run_batch(dataset, indexes, day, findings)
        decisions = []
        for name, rows in dataset.tables.items():
            contract = self._book.tables[name]
            for row in rows:
                key = row.key
                if row.problems:
                    decisions.append(Decision(name, row.number, key, Status.ERROR, error_findings(row.problems)))
                    continue
                found = [*findings.get((name, row.number), ()), *batch.rows.get((name, row.number), ())]
                decisions.append(Decision(name, row.number, key, status_of(found), tuple(found)))
        groups = tuple(Decision(GROUP_TABLE, number, group.key, status_of([group.finding]), (group.finding,))
                       for number, group in enumerate(batch.groups, start=1))
        return Report(__version__, tuple((pack.name, pack.version) for pack in self.packs),
                      self.digest, tuple(decisions), dict(dataset.sources), groups)

    def _run_batch(self, dataset: DataSet, indexes: Mapping[str, Index], day: dt.date,
                   findings: Mapping[tuple[str, int], Sequence[Finding]]) -> BatchResult:
        readable = self._readable(dataset)
        contexts = self._batch_contexts(dataset, indexes, day)

        def members_of(rule: BatchRule) -> Iterator[Member | Unchecked]:
            return self._members(rule, contexts)

        def passing(table: str, row: int, rule_ids: Sequence[str]) -> bool:
            return not any(finding.rule in rule_ids and finding.severity is Severity.ERROR
                           for finding in findings.get((table, row), ()))

        return run_batch(self._batch, members_of, readable, passing)

    def _readable(self, dataset: DataSet) -> dict[str, list[tuple[int, str, Any]]]:
        """Readable rows of the tables batch lookups look into, as (row, key, values)."""
        looked_up = {lookup.table for rule in self._batch for lookup in rule.lookups}
        return {name: [(row.number, row.key, row.values)
                       for row in rows if not row.problems]
                for name, rows in dataset.tables.items() if name in looked_up}

    def _batch_contexts(self, dataset: DataSet, indexes: Mapping[str, Index],
                        day: dt.date) -> dict[str, list[_Context]]:
        """Per table, what every batch rule needs of a row, computed once: key, related rows, state."""
        contexts: dict[str, list[_Context]] = {}
        for name in {rule.table.name for rule in self._batch}:
            compiled = self._evaluator.tables[name]
            contract = compiled.table
            rows = []
            for row in dataset.tables.get(name, ()):
                if not row.problems:
                    related = compiled.relate(row.values, indexes)
                    rows.append((row, row.key, related,
                                 Evaluator.state_of(compiled, row.values, related), self._day(contract, row, day)))
            contexts[name] = rows
        return contexts

    @staticmethod
    def _members(rule: BatchRule, contexts: Mapping[str, list[_Context]]) -> Iterator[Member | Unchecked]:
        name = rule.table.name
        for row, key, related, state, row_day in contexts.get(name, ()):
            member = rule.member(name, row.number, key, row.values, related, row_day, state)
            if member is not None:
                yield member

    @staticmethod
    def _day(table: Table, row: Row, as_of: dt.date) -> dt.date:
        day = row.values.get(table.date_field) if table.date_field else None
        return day if isinstance(day, dt.date) else as_of

    def explain(self, data: DataSource, table: str, key: str,
                as_of: dt.date | None = None) -> tuple[Decision, list[Explanation]]:
        """The decision on one record of a data set, and how each rule that applied went."""
        dataset = self.read(data)
        contract = self._table(table)
        day = as_of or dt.date.today()
        report = self._validate_dataset(dataset, day)
        decisions = {decision.key: decision for decision in report.records_of(table)}
        decision = decisions.get(key)
        if decision is None:
            raise MentorRulesError([Problem("MR312", f"no {table} row has the key {key!r}",
                                            Location(dataset.sources.get(table)))])
        row = dataset.tables[table][decision.row - 1]
        if row.problems:
            return decision, []
        indexes = self.indexes(dataset.tables)
        explanations = self._evaluator.explain(table, row.values, self._day(contract, row, day), indexes)
        compiled = self._evaluator.tables[table]
        state = Evaluator.state_of(compiled, row.values, compiled.relate(row.values, indexes))
        batch_findings = {finding.rule: finding for finding in decision.findings}
        row_day = self._day(contract, row, day)
        contexts = self._batch_contexts(dataset, indexes, day)
        readable = self._readable(dataset)
        failing = {(d.table, d.row): {f.rule for f in d.findings if f.severity is Severity.ERROR}
                   for d in report.decisions}

        def passing(other_table: str, number: int, rule_ids: Sequence[str]) -> bool:
            return not failing.get((other_table, number), set()) & set(rule_ids)

        for rule in self._batch:
            if rule.table.name != table or rule.rule.jurisdiction not in (None, state):
                continue
            member = rule.member(table, row.number, key, row.values, compiled.relate(row.values, indexes),
                                 row_day, state)
            if not isinstance(member, Member):
                explanations.append(Explanation(rule.rule, False, None, (), (), batch_findings.get(rule.rule.id)))
                continue
            members = [m for m in self._members(rule, contexts) if isinstance(m, Member)]
            steps = tuple(Step(name, value) for name, value in explain_batch(rule, member, members, readable, passing))
            periods = periods_of(self._book, rule.rule, row.values, row_day)
            lines = tuple(f"params.{name}<{since.isoformat()}> = "
                          f"{show(self._book.parameters[pack][name].value_on(since))}"
                          for pack, name, since in periods)
            finding = batch_findings.get(rule.rule.id)
            explanations.append(Explanation(rule.rule, True, finding is None, steps, lines, finding, periods))
        return decision, explanations

    def read(self, data: DataSource) -> DataSet:
        """Typed rows of a data source; raise :class:`MentorRulesError` for file problems."""
        if isinstance(data, DataSet):
            return data
        if isinstance(data, Mapping):
            dataset = DataSet()
            for name, rows in data.items():
                dataset.tables[name] = rows_from(self._table(name), rows, name)
                dataset.sources[name] = name
            return dataset
        paths = [Path(data)] if isinstance(data, (str, Path)) else [Path(item) for item in data]
        dataset = read(paths, self._book.tables)
        if dataset.problems:
            raise MentorRulesError(dataset.problems)
        return dataset

    def indexes(self, tables: Mapping[str, Sequence[Row]]) -> dict[str, Index]:
        """Rows of unique-keyed tables by key, for related-fact lookups.

        A repeated key makes the later row an error row, since a relation to it would be
        ambiguous; tables that are never looked up are indexed as empty.
        """
        indexes: dict[str, Index] = {name: {} for name in self._book.tables}
        for name, rows in tables.items():
            contract = self._book.tables[name]
            if not contract.unique:
                continue
            index: dict[Any, Mapping[str, Any]] = {}
            first: dict[Any, int] = {}
            for row in rows:
                if row.problems:
                    continue
                key = _index_key(contract, row.values)
                if key in index:
                    row.problems = (Problem(
                        "MR313", f"the key {contract.key_of(row.values)!r} is repeated "
                        f"(first in row {first[key]})", Location(name, row=row.number),
                        hint=f"each {contract.record} must appear once"),)
                    continue
                index[key] = row.values
                first[key] = row.number
            indexes[name] = index
        return indexes

    def _table(self, name: str) -> Table:
        try:
            return self._book.tables[name]
        except KeyError:
            raise MentorRulesError([Problem("MR300", f"unknown table {name!r}", Location(),
                                            expected=", ".join(self._book.tables))]) from None


def _index_key(table: Table, values: Mapping[str, Any]) -> Any:
    if len(table.key) == 1:
        return values.get(table.key[0])
    return tuple(values.get(name) for name in table.key)
