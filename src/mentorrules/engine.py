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
from mentorrules.checking.batch import GROUP_TABLE, BatchRule, Member, Unchecked
from mentorrules.checking.batch import explain as explain_batch
from mentorrules.checking.codegen import MASKED
from mentorrules.checking.completeness import completeness
from mentorrules.checking.evaluation import (
    Evaluator,
    Explanation,
    Index,
    Step,
    other_state,
    outside_period,
    periods_of,
    when_false,
)
from mentorrules.checking.evaluation import show as show_value
from mentorrules.checking.period import Period
from mentorrules.checking.policy import Policy
from mentorrules.checking.prepared import Context, check_date, check_names, check_record, check_rows
from mentorrules.checking.validation import Progress, Run
from mentorrules.errors import Location, MentorRulesError, Problem, UsageError, did_you_mean, one_of
from mentorrules.inputs.reading import ColumnReader, DataSet, Lines, Row, Rows, read, rows_from
from mentorrules.inputs.summaries import ColumnNote, column_notes, unreadable_columns
from mentorrules.loading.analysis import decision_tables_read
from mentorrules.loading.rulebook import Rule, RuleBook, load
from mentorrules.loading.tables import Table
from mentorrules.model import Decision, Report, TableBlock
from mentorrules.packs.discovery import Pack, discover
from mentorrules.sessions.config import SessionConfig

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

    def blocks(self) -> Iterator[Decision | TableBlock]:
        """The decisions, large tables in bulk (see :meth:`Records.blocks`)."""
        return iter(self._kept) if self._kept is not None else self._run.blocks()

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

    def __init__(self, book: RuleBook, backend: str | None = None, sessions: SessionConfig | None = None) -> None:
        sessions = sessions or SessionConfig()
        if backend is not None:
            sessions = SessionConfig(backend, sessions.max_sessions)
        self._session_config = sessions
        backend = sessions.backend
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
             versions: Iterable[str | Path] = (), *, sessions: SessionConfig | None = None) -> Engine:
        """Load installed packs (all when ``packs`` is None, else core plus those named) and
        extra rule directories or files; raise :class:`MentorRulesError` with every problem.
        ``versions`` are rule directories that replace the installed pack they are a version of
        (for ``mentorrules diff``). ``sessions`` chooses the session backend and bound
        (:class:`~mentorrules.sessions.config.SessionConfig`; default: python, 512).

        >>> Engine.load(packs=["atlantis"])
        Traceback (most recent call last):
        ...
        mentorrules.errors.MentorRulesError: <input>: MR401 unknown pack 'atlantis'; ...
        """
        if packs is not None:
            packs = check_names(packs, "packs", "pack names", "['alaska']")
        rules = check_names([rules] if isinstance(rules, (str, Path)) else rules, "rules", "paths", "['my-rules/']",
                            (str, Path))
        versions = check_names([versions] if isinstance(versions, (str, Path)) else versions, "versions", "paths",
                               "['my-rules/']", (str, Path))
        found, problems = discover(packs, [Path(path) for path in rules], [Path(path) for path in versions])
        if problems:
            raise MentorRulesError(problems)
        book = load(found)
        if book.problems:
            raise MentorRulesError(book.problems)
        if sessions is not None and not isinstance(sessions, SessionConfig):
            raise UsageError([Problem("MR420", f"sessions is a {type(sessions).__name__}, not a SessionConfig",
                                      Location(field="sessions"), expected="SessionConfig(backend=...)")])
        return cls(book, sessions=sessions)

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

        Sessions of one engine share one correlator (the engine's own by default, durable-rules
        in a supervised worker when ``Engine.load(sessions=SessionConfig(backend=...))`` asks);
        ``Engine.backend`` says which. A process forked after sessions started opens its own
        (its correlator is made afresh); a session opened before the fork refuses to change in
        the child (MR422).

            with engine.session() as session:
                changed = session.post("payouts", row)
                everything = session.findings()
        """
        from mentorrules.sessions.streaming import SessionPool

        as_of = check_date(as_of)
        if self._sessions is None:
            with self._sessions_lock:
                if self._sessions is None:
                    self._sessions = SessionPool(self._policy, self._backend, self._session_config.max_sessions)
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

    def prepare(self, *, as_of: dt.date | None = None, not_given: Iterable[str] = (),
                **tables: Iterable[Mapping[str, Any]]) -> Context:
        """A :class:`~mentorrules.checking.prepared.Context`: these tables' rows typed and
        indexed once, then records decided one at a time (``context.evaluate(payout)``), in
        microseconds that do not grow with the reference data; rows are added, replaced and
        removed with ``context.upsert(table, row)`` and ``context.remove(table, key)``.

        A table not passed is empty, unless it is named in ``not_given``: then the rules that
        read it are not checked, as in :meth:`validate`.

        >>> engine = Engine.load(packs=[])
        >>> context = engine.prepare(people=[{"person_id": "T-1", "career_year": 1}])
        >>> context.evaluate({"payout_id": "P-1", "payee_id": "T-1", "role": "coach", "program": "NM_PILOT",
        ...                   "state": "NM", "school_year": "2025-26", "pay_date": "2025-09-15",
        ...                   "amount": "500.00"}).findings[0].rule
        'STIPEND-001'
        """
        return Context(self._policy, tables, as_of=as_of, not_given=not_given,
                       trace=lambda data, table, day, row: self.trace(data, table, day, row))

    def evaluate(self, record: Mapping[str, Any], table: str = "payouts",
                 related: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
                 as_of: dt.date | None = None, *, not_given: Iterable[str] = ()) -> Decision:
        """Check one record; ``related`` gives rows of other tables it may refer to (and, for
        batch rules such as yearly caps, other rows of its own table, after which the record
        comes). A table not in ``related`` is empty, unless it is named in ``not_given``: then
        the rules that read it are not checked, as in :meth:`validate` (which this agrees with).
        A related row that cannot be read is reported as such.

        Values may be text (as in CSV) or native (``Decimal``, ``date``); they are typed by
        the table contract first, and a value that cannot be typed gives status ``error``.
        This is :meth:`prepare` and one evaluation; to check many records against the same
        reference data, prepare once.

        >>> engine = Engine.load(packs=[])
        >>> decision = engine.evaluate(
        ...     {"payout_id": "P-1", "payee_id": "T-9", "role": "mentor", "program": "NM_PILOT", "state": "NM",
        ...      "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.005"},
        ...     related={"people": [{"person_id": "T-1", "career_year": 1}]})
        >>> decision.status.value, sorted(finding.rule for finding in decision.findings)
        ('fail', ['STIPEND-002', 'STIPEND-003', 'STIPEND-005'])
        >>> [step["outcome"] for step in decision.trace() if step["rule"] == "STIPEND-002"]
        ['fails']
        """
        self._table(table)
        check_record(record, table)
        if related is not None and not isinstance(related, Mapping):
            raise UsageError([Problem("MR420", f"related is a {type(related).__name__}, not a mapping of tables",
                                      Location(field="related"), expected="{'people': [{...}], ...}")])
        context = self.prepare(as_of=as_of, not_given=not_given, **{
            self._table(name).name: rows for name, rows in (related or {}).items()})
        return context.evaluate(record, table, as_of)

    def trace(self, data: DataSource, table: str = "payouts", as_of: dt.date | None = None,
              row: int = 1) -> list[dict[str, Any]]:
        """How each rule went for one row (by default the first of ``table``), as JSON-able dicts:
        what ``Decision.trace()`` of :meth:`evaluate` and of a prepared context's decisions gives
        (see ``checking/tracing.py``)."""
        from mentorrules.checking.tracing import trace_of

        for decision, explanations in self.explain_rows(data, as_of, table=table):
            if decision.row == row:
                return trace_of(explanations)
        raise MentorRulesError([Problem("MR312", f"no {table} row {row}", Location(table, row=row))])

    @staticmethod
    def _check_rows(name: str, rows: object) -> None:
        check_rows(name, rows)

    def validate(self, data: DataSource, as_of: dt.date | None = None, *,
                 mask: Iterable[str] | None = None, progress: Progress | None = None,
                 period: str | Period | None = None,
                 engine: str = "columnar") -> Report:
        """Check every row of a data set: a directory, table files, or ``{table: rows}``.

        Raises :class:`MentorRulesError` for problems with whole files (exit code 2 in the CLI);
        problems with single rows are error records in the report. Findings of batch rules
        about a whole group follow the input rows as records of table ``group``.

        ``mask`` names personal columns whose values the report never shows: a message part,
        a key or a cell that reads one shows ``[masked]``, whatever the rule does with the value
        (see :meth:`mask_defaults`). ``progress`` is called with the pass (``reading``,
        ``checking``, ``writing``) and the number of rows visited so far.

        ``period`` (``"2026-06"``, ``"2026-06-01..2026-06-30"``, ``"2025-26"`` or a
        :class:`Period`) judges only the payouts paid in it; the others are ``history`` rows:
        read and counted by caps and duplicates, without findings. The summary says whether the
        run is complete (``complete``; ``incomplete`` names the rules that did not run: tables
        not given, or history before the period that rules looking back over a school year, or
        further, cannot see). ``summary.money`` holds the amounts (see docs/money.md).

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
        as_of = check_date(as_of)
        masked = tuple(dict.fromkeys(check_names(mask or (), "mask", "column names", "['name', 'email']")))
        if progress is not None and not callable(progress):
            raise UsageError([Problem("MR420", f"progress is a {type(progress).__name__}, not a function",
                                      Location(field="progress"), expected="a function of (pass, rows)")])
        dataset = self.read(data, every_column=False, columns=engine == "columnar")
        not_checked = self.not_checked(dataset.tables)
        if isinstance(period, str):
            period = Period.parse(period)
        run = self._run(engine, dataset, as_of or dt.date.today(), progress, frozenset(masked),
                        frozenset(not_checked), period)
        outcome = run.decide()
        notes = self._input_notes(dataset, run)
        totals = outcome.summary
        totals.update(completeness(self._book.rules, self._batch, not_checked, run))
        return Report(__version__, tuple((pack.name, pack.version) for pack in self.packs), self.digest,
                      Decisions(run, outcome.rows), dict(dataset.sources), tuple(outcome.groups), masked,
                      totals=totals, not_checked=not_checked, illustrative=self.illustrative(not_checked),
                      ignored=dict(dataset.ignored), notes=tuple(map(str, notes)))

    def illustrative(self, skipped: Iterable[str] = ()) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
        """The parameters marked illustrative (no public source gives them: an administrator's
        choice) that the rules read, less the rules ``skipped``: (pack, name, (from, value) per
        dated value). Every report lists them, so that nobody takes a placeholder for policy.

        >>> engine = Engine.load(packs=["new-mexico"])
        >>> [(pack, name) for pack, name, _ in engine.illustrative() if name == "stipend_cap"]
        [('new-mexico', 'stipend_cap')]
        """
        skipped = set(skipped)
        found: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        for rule in self._book.rules:
            if rule.id in skipped:
                continue
            parameters = self._book.parameters_for(rule.pack)
            for name in sorted({name for expression in rule.expressions for name in expression.parameters}):
                parameter = parameters.get(name)
                if parameter is None or not parameter.illustrative:
                    continue
                found[(parameter.pack, name)] = tuple(
                    (start.isoformat(), "(none)" if value == [] else "(ended)" if value is None else show_value(value))
                    for start, value in zip(parameter.starts, parameter.values, strict=True))
            for name in sorted(decision_tables_read(rule)):
                table = self._book.decision_tables.get(name)
                if table is None or not table.illustrative:
                    continue
                starts: dict[str, list[str]] = {}
                for row in sorted(table.rows, key=lambda row: (row.start, row.number)):
                    starts.setdefault(row.start.isoformat(), []).append(row.shown(table))
                found[(table.pack, name)] = tuple((start, "; ".join(rows)) for start, rows in starts.items())
        return tuple((pack, name, values) for (pack, name), values in sorted(found.items()))

    def _input_notes(self, dataset: DataSet, run: Run) -> list[ColumnNote]:
        """Cell problems summarised per column; raise MR314 for a needed column none of whose
        cells could be read (the run would be all error rows)."""
        notes: list[ColumnNote] = []
        problems: list[Problem] = []
        for name, rows in dataset.tables.items():
            table = self._table(name)
            if isinstance(rows, Rows):
                found, line_of = rows.problems, rows.lines.of
            else:
                found = run.problems.get(name, {})
                line_of = (run.lines[name] if name in run.lines else Lines()).of
            if not found:
                continue
            notes += column_notes(table, found, line_of)
            source = dataset.sources.get(name, name)
            if source != name:  # a file, not rows given by a program (a rule test's case)
                needed = {*self._columns_read.get(name, ()), *table.required}
                problems += unreadable_columns(table, len(rows), found, line_of, needed, source)
        if problems:
            raise MentorRulesError(problems)
        return notes

    def _run(self, engine: str, dataset: DataSet, as_of: dt.date, progress: Progress | None,
             masked: frozenset[str], skipped: frozenset[str], period: Period | None) -> Run:
        """A validation run on the chosen backend (the reference when Polars is not installed)."""
        if engine not in ENGINES:
            raise UsageError([Problem("MR416", f"unknown engine {engine!r}", Location(field="engine"),
                                      expected=" or ".join(map(repr, ENGINES)))])
        plan = self.columnar_plan() if engine == "columnar" else None
        tables = dataset.tables
        if plan is None:
            return Run(self._evaluator, self._batch, tables, as_of, progress, masked, skipped=skipped, period=period)
        from mentorrules.checking.columnar import ColumnarRun
        return ColumnarRun(self._evaluator, self._batch, tables, as_of, plan, progress, masked, skipped, period,
                           columns=dataset.columns)

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

    def in_scope(self, tables: Mapping[str, Sequence[Row]]) -> frozenset[str]:
        """The rules that apply to some of the data: core rules, and a state pack's rules when a
        row is of its state (its ``state``, else its district's) or of a program it owns
        (``PackSpec.programs``). ``validate --complete`` asks only for the tables of these.

        >>> Engine.load(packs=["core"]).in_scope({}) >= {"STIPEND-001"}
        True
        """
        states: set[str] = set()
        programs: set[str] = set()
        indexes = self.indexes(tables)
        for name, rows in tables.items():
            compiled = self._evaluator.tables.get(name)
            if compiled is None:
                continue
            for row in rows:
                if row.problems:
                    continue
                state = Evaluator.state_of(compiled, row.values, compiled.relate(row.values, indexes))
                if state is not None:
                    states.add(state)
                program = row.values.get("program")
                if isinstance(program, str):
                    programs.add(program)
        owned = {pack.name for pack in self.packs
                 if pack.jurisdiction in states or programs.intersection(pack.spec.programs)}
        return frozenset(rule.id for rule in self._book.rules if rule.jurisdiction is None or rule.pack in owned)

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
        Values read from ``mask`` columns show as ``[masked]``.

        ``table`` ``"group"`` explains a group record (``ASMP-010:Chugach/2025-26``): the
        group's keys, aggregates, lookups and rows, the parameters, and its finding."""
        dataset = self.read(data)
        if table == GROUP_TABLE:
            return self._explain_group(dataset, key, as_of, frozenset(mask or ()))
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
        as_of = check_date(as_of)
        masked = frozenset(check_names(mask or (), "mask", "column names", "['name', 'email']"))
        dataset = self.read(data)
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

    def _explain_group(self, dataset: DataSet, key: str, as_of: dt.date | None,
                       masked: frozenset[str]) -> list[tuple[Decision, list[Explanation]]]:
        """The group record ``key`` and how its rule went for the group."""
        not_checked = self.not_checked(dataset.tables)
        run = Run(self._evaluator, self._batch, dataset.tables, as_of or dt.date.today(), masked=masked,
                  skipped=frozenset(not_checked))
        run.decide()
        groups = {decision.key: decision for decision in run.outcome.groups}
        if key not in groups:
            raise MentorRulesError([Problem(
                "MR312", f"no group record has the key {key!r}", Location(),
                expected=one_of(groups) if groups else "a group record of the report (this data has none)",
                hint=did_you_mean(key, list(groups)))])
        decision = groups[key]
        rule = next(rule for rule in self._batch if rule.rule.id == key.split(":", 1)[0])
        return [(decision, [self._group_explanation(run, rule, key, decision, masked)])]

    def _group_explanation(self, run: Run, rule: BatchRule, label: str, decision: Decision | None,
                           masked: frozenset[str]) -> Explanation:
        """How a rule with findings on groups went for the group ``label``: its figures and verdict."""
        members = [member for member in run.members(rule) if isinstance(member, Member)]
        group = [member for member in members if rule.group_label(rule.group_key(member), masked) == label]
        finding = decision.findings[0] if decision is not None and decision.findings else None
        if not group:
            return Explanation(rule.rule, True, finding is None, (), (), finding)
        steps = [Step("group record", label)]
        for name, value in explain_batch(rule, group[0], members, run.readable, run.passes):
            hidden = masked & rule.name_columns.get(name, frozenset()) or (
                name == "rows of the group" and masked.intersection(rule.table.key))
            steps.append(Step(name, MASKED if hidden else value))
        first = group[0]
        return Explanation(rule.rule, True, finding is None, tuple(steps), rule.parameter_lines(group[-1]), finding,
                           periods_of(self._book, rule.rule, first.values, first.day))

    def _explain_row(self, run: Run, contract: Table, row: Row, decision: Decision, masked: frozenset[str],
                     not_checked: Mapping[str, tuple[str, ...]]) -> list[Explanation]:
        if row.problems:
            return []
        table = contract.name
        row_day = validation.row_day(contract, row.values, run.as_of)
        explained = self._evaluator.explain(table, row.values, row_day, run.indexes, masked)
        explanations = [explanation for explanation in explained if explanation.rule.id not in run.skipped]
        compiled = self._evaluator.tables[table]
        related = compiled.relate(row.values, run.indexes)
        state = Evaluator.state_of(compiled, row.values, related)
        batch_findings = {finding.rule: finding for finding in decision.findings}
        for rule in self._batch:
            if rule.table.name != table or rule.rule.id in run.skipped:
                continue
            if rule.rule.jurisdiction not in (None, state) and not rule.state_unknown(state):
                if state is not None:
                    explanations.append(Explanation(rule.rule, False, None, (), (), None,
                                                    why=other_state(rule.rule, contract, state)))
                continue
            member = rule.member(table, row.number, row.key, row.values, related, row_day, state)
            if not isinstance(member, Member):
                finding = batch_findings.get(rule.rule.id)
                why = None
                if finding is None and member is None:
                    in_force = rule.in_force(rule.rule.jurisdiction if rule.state_unknown(state) else state, row_day)
                    why = (when_false(rule.rule) if rule.rule.when is not None and in_force
                           else outside_period(rule.rule, row_day))
                explanations.append(Explanation(rule.rule, isinstance(member, Unchecked), None, (), (), finding,
                                                why=why))
                continue
            if rule.by_group:  # the group's verdict and figures, under its group record
                label = rule.group_label(rule.group_key(member), masked)
                group_decision = next((group for group in run.outcome.groups if group.key == label), None)
                explanations.append(self._group_explanation(run, rule, label, group_decision, masked))
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

    def read(self, data: DataSource, *, every_column: bool = True, columns: bool = False) -> DataSet:
        """Typed rows of a data source; raise :class:`MentorRulesError` for file problems.

        With ``every_column=False`` the cells of columns no rule reads (names, emails) are
        checked but not kept, which saves memory on large files; a report that shows the input
        rows needs every column. With ``columns=True`` plain CSV tables are also read into
        typed columns (the same rows), which the columnar backend screens.
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
        paths = [Path(data)] if isinstance(data, (str, Path)) else \
            [Path(item) for item in check_names(data, "data", "paths, nor a mapping of tables",
                                                "'examples/' or {'payouts': [...]}", (str, Path))]
        reader: ColumnReader | None = None
        if columns:
            try:
                from mentorrules.inputs.columns import held_columns
            except ImportError:  # without Polars: the reference reader
                held_columns = None  # type: ignore[assignment]
            reader = held_columns
        dataset = read(paths, self._book.tables, self.streamable, None if every_column else self.columns_read,
                       self._linking, reader)
        if dataset.problems:
            raise MentorRulesError(dataset.problems)
        return dataset

    def indexes(self, tables: Mapping[str, Sequence[Row]]) -> dict[str, Index]:
        """Rows of unique-keyed tables by key, for related-fact lookups (see :func:`validation.index_tables`)."""
        return validation.index_tables(self._book.tables, tables)

    def _table(self, name: object) -> Table:
        try:
            return self._book.tables[name]  # type: ignore[index]
        except (KeyError, TypeError):
            raise MentorRulesError([Problem("MR300", f"unknown table {name!r}", Location(),
                                            expected=", ".join(self._book.tables))]) from None
