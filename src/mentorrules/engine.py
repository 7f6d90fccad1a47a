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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from mentorrules import __version__
from mentorrules.checking import validation
from mentorrules.checking.batch import BatchRule, Member
from mentorrules.checking.batch import explain as explain_batch
from mentorrules.checking.codegen import MASKED
from mentorrules.checking.evaluation import Evaluator, Explanation, Index, Step, periods_of
from mentorrules.checking.policy import Policy
from mentorrules.checking.validation import Progress, Run
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.inputs.reading import DataSet, Row, read, rows_from
from mentorrules.loading.rulebook import Rule, RuleBook, load
from mentorrules.loading.tables import Table
from mentorrules.model import Decision, Report
from mentorrules.packs.discovery import Pack, discover

if TYPE_CHECKING:
    from mentorrules.checking.columnar.plan import Plan
    from mentorrules.sessions.streaming import Session, SessionPool


ENGINES = ("columnar", "python")  # validation backends: over whole columns, row-at-a-time (the reference)
DataSource = str | Path | Sequence[str | Path] | Mapping[str, Iterable[Mapping[str, Any]]] | DataSet


class Decisions(Sequence[Decision]):
    """The decisions of a validation run, made afresh each time they are iterated (a streamed
    table is read again, not kept); ``len`` is known at once, indexing keeps them in memory."""

    def __init__(self, run: Run, rows: int) -> None:
        self._run = run
        self._rows = rows
        self._kept: tuple[Decision, ...] | None = None

    def __iter__(self) -> Iterator[Decision]:
        return iter(self._kept) if self._kept is not None else self._run.decisions()

    def __len__(self) -> int:
        return self._rows

    @overload
    def __getitem__(self, index: int) -> Decision: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Decision]: ...
    def __getitem__(self, index: int | slice) -> Decision | Sequence[Decision]:
        if self._kept is None:
            self._kept = tuple(self._run.decisions())
        return self._kept[index]


class Engine:
    """Loaded, checked and compiled rule packs. Build one with :meth:`load`."""

    def __init__(self, book: RuleBook, backend: str = "auto") -> None:
        self._book = book
        self._policy = Policy(book)
        self._evaluator = self._policy.evaluator
        self._batch = self._policy.batch_rules
        self._backend = backend
        self._columns_read = self._policy.columns_read
        self._tables_read = self._policy.tables_read
        self._linking = self._policy.linking
        self._plan: Plan | None = None
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

    @property
    def policy(self) -> Policy:
        """The compiled rule book that every way of checking shares."""
        return self._policy

    def session(self, as_of: dt.date | None = None) -> Session:
        """A streaming session: post facts one at a time, get findings as they become derivable.

        Sessions of one engine share one correlator (durable-rules in a supervised worker where
        it is installed, else the engine's own); ``Engine.backend`` says which.

            with engine.session() as session:
                changed = session.post("payouts", row)
                everything = session.findings()
        """
        from mentorrules.sessions.streaming import SessionPool

        with self._sessions_lock:
            if self._sessions is None:
                self._sessions = SessionPool(self._policy, self._backend)
        return self._sessions.open(as_of)

    @property
    def backend(self) -> str:
        """The session backend: ``durable-rules`` (installed and importable) or ``python``."""
        from mentorrules.sessions.streaming import available_backend

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

        >>> engine = Engine.load(packs=[])
        >>> decision = engine.evaluate(
        ...     {"payout_id": "P-1", "payee_id": "T-9", "role": "mentor", "program": "NM_PILOT", "state": "NM",
        ...      "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.005"},
        ...     related={"people": [{"person_id": "T-1", "career_year": 1}]})
        >>> decision.status.value, sorted(finding.rule for finding in decision.findings)
        ('fail', ['STIPEND-002', 'STIPEND-003', 'STIPEND-005'])
        """
        self._table(table)
        for name, rows in (related or {}).items():
            self._check_rows(name, rows)
        # The record and its related rows are the whole world: a table not given is empty here.
        data: dict[str, list[Mapping[str, Any]]] = {name: [] for name in self._book.tables}
        data.update({name: list(rows) for name, rows in (related or {}).items()})
        data[table] = [record, *data[table]]
        return self.validate(data, as_of=as_of).records_of(table)[0]

    @staticmethod
    def _check_rows(name: str, rows: object) -> None:
        if isinstance(rows, (Mapping, str, bytes)):
            raise MentorRulesError([Problem(
                "MR300", f"the rows of {name!r} are a {type(rows).__name__}, not a list of rows", Location(name),
                hint=f"give a list of mappings, e.g. {{{name!r}: [{{...}}, {{...}}]}}")])

    def validate(self, data: DataSource, as_of: dt.date | None = None, *,
                 mask: Iterable[str] | None = None, progress: Progress | None = None,
                 engine: str = "columnar") -> Report:
        """Check every row of a data set: a directory, table files, or ``{table: rows}``.

        Raises :class:`MentorRulesError` for problems with whole files (exit code 2 in the CLI);
        problems with single rows are error records in the report. Findings of batch rules
        about a whole group follow the input rows as records of table ``group``.

        ``mask`` names personal columns whose values the report never shows: a message part,
        a key or a cell that reads one shows ``[masked]``, whatever the rule does with the value
        (see :meth:`mask_defaults`). ``progress`` is called with the pass (``reading``,
        ``checking``, ``writing``) and the number of rows visited so far.

        ``engine`` picks the backend: ``"columnar"`` (the default, where Polars is installed)
        screens whole columns and gives the same report as ``"python"``, the row-at-a-time
        reference (see ``docs/columnar.md``).

        >>> engine = Engine.load(packs=[])
        >>> report = engine.validate({"payouts": [
        ...     {"payout_id": "P-1", "payee_id": "T-1", "role": "coach", "program": "NM_PILOT", "state": "NM",
        ...      "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "500.00"}],
        ...     "people": [{"person_id": "T-1", "career_year": 1}]}, as_of=dt.date(2025, 9, 15))
        >>> report.summary["rows"], report.summary["fail"], report.records_of("payouts")[0].findings[0].rule
        (2, 1, 'STIPEND-001')
        """
        dataset = self.read(data, every_column=False)
        masked = tuple(dict.fromkeys(mask or ()))
        not_checked = self.not_checked(dataset.tables)
        run = self._run(engine, dataset.tables, as_of or dt.date.today(), progress, frozenset(masked),
                        frozenset(not_checked))
        outcome = run.decide()
        return Report(__version__, tuple((pack.name, pack.version) for pack in self.packs), self.digest,
                      Decisions(run, outcome.rows), dict(dataset.sources), tuple(outcome.groups), masked,
                      totals=outcome.summary, not_checked=not_checked)

    def _run(self, engine: str, tables: Mapping[str, Sequence[Row]], as_of: dt.date, progress: Progress | None,
             masked: frozenset[str], skipped: frozenset[str]) -> Run:
        """A validation run on the chosen backend (the reference when Polars is not installed)."""
        if engine not in ENGINES:
            raise MentorRulesError([Problem("MR420", f"unknown engine {engine!r}", Location(),
                                            expected=", ".join(ENGINES))])
        plan = self.columnar_plan() if engine == "columnar" else None
        if plan is None:
            return Run(self._evaluator, self._batch, tables, as_of, progress, masked, skipped=skipped)
        from mentorrules.checking.columnar import ColumnarRun
        return ColumnarRun(self._evaluator, self._batch, tables, as_of, plan, progress, masked, skipped)

    def columnar_plan(self) -> Plan | None:
        """The columnar plan of the loaded rules (compiled once), or None without Polars."""
        if self._plan is None:
            try:
                from mentorrules.checking.columnar import compile_plan
            except ImportError:  # Polars is not installed: the reference backend
                return None
            self._plan = compile_plan(self._book)
        return self._plan

    def runs_where(self) -> dict[str, str | None]:
        """Per rule id, how the columnar backend runs it: None over whole columns, else the
        reason it runs row-at-a-time (its findings are the same either way).

        >>> Engine.load(packs=["core"]).runs_where()["STIPEND-002"] is None
        True
        """
        plan = self.columnar_plan()
        if plan is None:
            return {rule.id: "Polars is not installed" for rule in self._book.rules}
        return plan.where()

    def not_checked(self, given: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The rules that read a table that was not given, each with those tables.

        A table that was not given is not taken as empty: a payout file checked alone cannot
        show that a payee has no pairing or missed a training session. Such rules are not run,
        and the report says so. (A table given with no rows is empty, and is checked as such.)

        >>> engine = Engine.load(packs=["core"])
        >>> engine.not_checked(["payouts", "people", "districts", "grants"])["PAIRING-001"]
        ('pairings',)
        """
        given = set(given)
        return {rule.id: tuple(sorted(self._tables_read[rule.id] - given))
                for rule in self._book.rules if not self._tables_read[rule.id] <= given}

    def mask_defaults(self) -> tuple[str, ...]:
        """The personal fields the loaded packs ask to mask (core: name, email)."""
        return tuple(dict.fromkeys(name for pack in self.packs for name in pack.spec.mask))

    @property
    def columns_read(self) -> Mapping[str, frozenset[str]]:
        """Per table, the columns rules read: in expressions, keys, links, dates and states."""
        return self._columns_read

    @property
    def streamable(self) -> frozenset[str]:
        """Tables whose CSV file may be streamed: no rule looks rows up in them, their key is not unique."""
        looked_up = {relation.table for table in self._book.tables.values() for relation in table.relations.values()}
        looked_up |= {lookup.table for rule in self._batch for lookup in rule.lookups}
        return frozenset(name for name, table in self._book.tables.items()
                         if name not in looked_up and not table.unique)

    def explain(self, data: DataSource, table: str, key: str, as_of: dt.date | None = None,
                mask: Iterable[str] | None = None) -> list[tuple[Decision, list[Explanation]]]:
        """Each row of ``table`` with this key (a repeated key has several), its decision, and how
        each rule that applies to it went: sub-expression values, parameters with their dates.
        Values read from ``mask`` columns show as ``[masked]``."""
        dataset = self.read(data)
        self._table(table)
        if table not in dataset.tables:
            raise MentorRulesError([Problem("MR312", f"no {table} table was given", Location(),
                                            hint=f"give the {table} file (or sheet) with the data")])
        if not any(row.key == key for row in dataset.tables[table]):
            raise MentorRulesError([Problem("MR312", f"no {table} row has the key {key!r}",
                                            Location(dataset.sources.get(table)))])
        return list(self.explain_rows(dataset, as_of, mask, table=table, key=key))

    def explain_rows(self, data: DataSource, as_of: dt.date | None = None, mask: Iterable[str] | None = None,
                     *, table: str | None = None, key: str | None = None,
                     ) -> Iterator[tuple[Decision, list[Explanation]]]:
        """Every input row (of ``table``, with ``key``, when given) with its decision and the
        explanation of each rule, from one run over the data.

        A row rule's explanation is computed on the recording path, the decision on the fast
        path; the two give the same findings (the test suite checks it on every rule case and on
        the example data).
        """
        dataset = self.read(data)
        masked = frozenset(mask or ())
        not_checked = self.not_checked(dataset.tables)
        run = Run(self._evaluator, self._batch, dataset.tables, as_of or dt.date.today(), masked=masked,
                  skipped=frozenset(not_checked))
        run.decide()
        wanted = {(name, row.number): row for name, rows in dataset.tables.items()
                  if table in (None, name) for row in rows if key in (None, row.key)}
        for decision in run.decisions():
            row = wanted.get((decision.table, decision.row))
            if row is not None:
                yield decision, self._explain_row(run, self._table(decision.table), row, decision, masked,
                                                  not_checked)

    def _explain_row(self, run: Run, contract: Table, row: Row, decision: Decision, masked: frozenset[str],
                     not_checked: Mapping[str, tuple[str, ...]]) -> list[Explanation]:
        if row.problems:
            return []
        table = contract.name
        row_day = validation.row_day(contract, row.values, run.as_of)
        explanations = [explanation for explanation in self._evaluator.explain(table, row.values, row_day, run.indexes)
                        if explanation.rule.id not in run.skipped]
        compiled = self._evaluator.tables[table]
        related = compiled.relate(row.values, run.indexes)
        state = Evaluator.state_of(compiled, row.values, related)
        batch_findings = {finding.rule: finding for finding in decision.findings}
        for rule in self._batch:
            if rule.table.name != table or rule.rule.jurisdiction not in (None, state) or rule.rule.id in run.skipped:
                continue
            member = rule.member(table, row.number, row.key, row.values, related, row_day, state)
            if not isinstance(member, Member):
                explanations.append(Explanation(rule.rule, False, None, (), (), batch_findings.get(rule.rule.id)))
                continue
            members = [other for other in run.members(rule) if isinstance(other, Member)]
            steps = []
            for name, value in explain_batch(rule, member, members, run.readable, run.passes):
                hidden = masked & rule.name_columns.get(name, frozenset()) or (
                    name == "rows of the group" and masked.intersection(contract.key))
                steps.append(Step(name, MASKED if hidden else value))
            periods = periods_of(self._book, rule.rule, row.values, row_day)
            finding = batch_findings.get(rule.rule.id)
            explanations.append(Explanation(rule.rule, True, finding is None, tuple(steps),
                                            rule.parameter_lines(member), finding, periods))
        explanations += [Explanation(rule, False, None, (), (), None, not_given=not_checked[rule.id])
                         for rule in self._book.rules if rule.id in not_checked and rule.table == table
                         and rule.jurisdiction in (None, state)]
        if not masked:
            return explanations
        # A single-row rule's step is the text of a sub-expression: masked when it reads a masked column.
        return [replace(explanation, steps=tuple(
            replace(step, value=MASKED) if masked & set(re.findall(r"\.(\w+)", step.text)) else step
            for step in explanation.steps)) for explanation in explanations]

    def read(self, data: DataSource, *, every_column: bool = True) -> DataSet:
        """Typed rows of a data source; raise :class:`MentorRulesError` for file problems.

        With ``every_column=False`` the cells of columns no rule reads (names, emails) are
        checked but not kept, which saves memory on large files; a report that shows the input
        rows needs every column.
        """
        if isinstance(data, DataSet):
            return data
        if isinstance(data, Mapping):
            dataset = DataSet()
            for name, rows in data.items():
                self._check_rows(name, rows)
                dataset.tables[name] = rows_from(self._table(name), rows, name)
                dataset.sources[name] = name
            return dataset
        paths = [Path(data)] if isinstance(data, (str, Path)) else [Path(item) for item in data]
        dataset = read(paths, self._book.tables, self.streamable, None if every_column else self.columns_read,
                       self._linking)
        if dataset.problems:
            raise MentorRulesError(dataset.problems)
        return dataset

    def indexes(self, tables: Mapping[str, Sequence[Row]]) -> dict[str, Index]:
        """Rows of unique-keyed tables by key, for related-fact lookups (see :func:`validation.index_tables`)."""
        return validation.index_tables(self._book.tables, tables)

    def _table(self, name: str) -> Table:
        try:
            return self._book.tables[name]
        except KeyError:
            raise MentorRulesError([Problem("MR300", f"unknown table {name!r}", Location(),
                                            expected=", ".join(self._book.tables))]) from None
