"""The columnar backend's run: screens over whole columns, the reference code on the few rows left.

:class:`ColumnarRun` is a :class:`~mentorrules.checking.validation.Run` whose passes are
replaced: each table becomes a Polars frame (relations joined, dates and states computed), each
rule's screen (:mod:`~mentorrules.checking.columnar.plan`) picks the rows that may have a
finding, and only those rows go through the reference code, which builds the findings, their
messages, ``rows`` lists and "cannot check" reasons. Group rules fold into their groups only
the members of groups with a row picked. What is written is therefore the reference's own
output: the screens decide how much work is skipped, never what a finding says.

A rule the plan runs row-at-a-time, or whose screen fails on the data (a Polars error), is run
by the reference over every row it may apply to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast

import polars as pl

from mentorrules.checking.batch import BatchRule, Member, lookup_names
from mentorrules.checking.codegen import MASKED
from mentorrules.checking.columnar.frames import frame_of, mapped, related_frame
from mentorrules.checking.columnar.plan import LookupPlan, Plan, RulePlan, TablePlan
from mentorrules.checking.columnar.translate import TRUE, Derived, Unsupported, certain
from mentorrules.checking.evaluation import Evaluator, Values, _school_year_starts, error_findings
from mentorrules.checking.money import AMOUNT, MONEY_TABLE, MoneyTally
from mentorrules.checking.period import Period
from mentorrules.checking.validation import ColumnIndex, Progress, Run, _Verdicts
from mentorrules.inputs.columns import TableColumns, csv_columns
from mentorrules.inputs.reading import KeyedRecords, Row, Rows, StreamedRows
from mentorrules.loading.rulebook import Rule
from mentorrules.loading.tables import Table
from mentorrules.model import Decision, Outcome, Status, TableBlock, status_of

_FAILURES = (Unsupported, pl.exceptions.PolarsError, TypeError, ValueError, OverflowError, ArithmeticError)


class ColumnarRun(Run):
    """One validation of a data set on the columnar backend (same decisions as :class:`Run`)."""

    def __init__(self, evaluator: Evaluator, rules: Sequence[BatchRule], tables: Mapping[str, Sequence[Row]],
                 as_of: dt.date, plan: Plan, progress: Progress | None = None,
                 masked: frozenset[str] = frozenset(), skipped: frozenset[str] = frozenset(),
                 period: Period | None = None, columns: Mapping[str, TableColumns] | None = None) -> None:
        super().__init__(evaluator, rules, tables, as_of, progress, masked, skipped, period)
        self._given = dict(columns or {})  # held tables the reader also gave as columns
        self.tables: dict[str, Sequence[Row]] = dict(tables)  # a streamed table may become held
        self.plan = plan
        # A streamed table (payouts) is read once, into columns: no record per row is kept. The
        # keys and problems of its rows are remembered as the reference's streamed pass does
        # (for writing the decisions), and a row a screen picks is rebuilt from its columns.
        self._columns: dict[str, pl.DataFrame] = {}
        self._rows_cache: dict[str, dict[int, Row]] = {}
        self._linked: dict[str, dict[str, set[int]]] = {}  # lookup rule -> table -> rows linked to picks
        self.fallbacks: dict[str, str] = {}  # rule id -> why it ran row-at-a-time on this data
        self._picked: dict[str, list[int]] = {}  # rule id -> row numbers its screen picked
        self._members: dict[str, list[int]] = {}  # group rule id -> members of picked groups
        self._positions: dict[str, Any] = {}

    # -- passes ---------------------------------------------------------------------------------
    def decide(self) -> Outcome:
        """The reference's passes, each over the rows the screens picked (see the module's docstring)."""
        for name in self.tables:
            self._screen(name)
        for name in self._columns:
            self._prefetch(name)
        for name, rows in self.tables.items():
            if isinstance(rows, StreamedRows) and name not in self.keys:
                for _ in self._remember(name, rows):  # a table no rule reads: its keys for writing
                    pass
        self._find_history()
        for name in self.tables:
            self._single(name)
        for rule in self.rules:
            self._decide_batch(rule)
        # Tallied in the reference's order (streamed tables first), since money gaps are a list.
        for name in sorted(self.tables, key=lambda name: name not in self.keys):
            self._tally(name, self.tables[name])
        if self.money is not None:
            for group in self.outcome.groups:
                self.money.group(group)
            self.outcome.money = self.money.to_dict()
        return self.outcome

    def _find_history(self) -> None:
        """With a period, the payout rows outside it (over the columns of a streamed table)."""
        if self.period is None or MONEY_TABLE not in self.tables or self._period_field is None:
            return
        frame = self._columns.get(MONEY_TABLE)
        if frame is None or self._period_field not in frame.columns:
            for row in self.tables[MONEY_TABLE]:
                self._is_history(MONEY_TABLE, row)
            return
        day = pl.col(self._period_field)
        found = frame.lazy().filter(day.is_not_null() & ~day.is_between(self.period.start, self.period.end)).select(
            "__row", (day < self.period.start).alias("before"), day).collect()
        self.history.update(found["__row"].to_list())
        before = found.filter("before")[self._period_field]
        first, last = before.min(), before.max()
        if isinstance(first, dt.date) and isinstance(last, dt.date):
            self.history_dates += [first, last]

    def _screen(self, name: str) -> None:
        """Run the screens of a table's rules over its frame: every row rule's in one pass."""
        table_plan = self.plan.tables[name]
        wanted = [plan for plan in table_plan.rules if plan.rule.id not in self.skipped]
        if not wanted:
            return
        try:
            frame = self._frame(name, table_plan)
        except _FAILURES as error:
            for plan in wanted:
                self.fallbacks[plan.rule.id] = f"the table's columns could not be built: {error}"
                self._picked[_name(plan.rule)] = self._all(name)
            return
        screens: dict[str, pl.Expr] = {}
        for plan in wanted:
            rule_id = _name(plan.rule)
            if plan.reason is None:
                try:
                    if plan.lookups:
                        self._screen_lookups(frame, plan)
                        continue
                    if plan.member is not None:
                        self._screen_group(frame, plan)
                        continue
                    for derived in plan.derived:
                        frame = derive(frame, derived)
                    assert plan.screen is not None
                    screens[rule_id] = plan.screen
                    continue
                except _FAILURES as error:
                    self.fallbacks[rule_id] = f"its screen failed on this data: {error}"
            screens[rule_id] = plan.applies if plan.applies is not None and plan.reason is not None else TRUE
        self._pick(name, frame, screens)

    def _pick(self, name: str, frame: pl.DataFrame, screens: Mapping[str, pl.Expr]) -> None:
        """The rows each screen picks, from one pass over the frame (rule by rule if that fails)."""
        try:
            picked = frame.lazy().select(pl.col("__row"), **screens).collect()
        except _FAILURES:
            picked = None
        rows = frame["__row"]
        for rule_id, screen in screens.items():
            try:
                column = picked[rule_id] if picked is not None else frame.select(screen.alias("s"))["s"]
                self._picked[rule_id] = rows.filter(column.fill_null(True)).to_list()
            except _FAILURES as error:
                self.fallbacks.setdefault(rule_id, f"its screen failed on this data: {error}")
                self._picked[rule_id] = self._all(name)

    def _streamed_frame(self, name: str, rows: StreamedRows, chunk: int = 65_536) -> pl.DataFrame:
        """Read a streamed table once into a frame of every column it keeps, a chunk of rows at
        a time, remembering each row's key and the problems of the rows that cannot be read."""
        contract = self.contracts[name]
        read = csv_columns(rows.path, contract, rows.source, interned=rows.interned)
        if read is not None:  # a plain file: straight into columns, the same rows as the reader's
            # A Polars column indexes, slices and iterates as the list of keys does.
            self.keys[name], self.lines[name] = cast(Sequence[str], read.keys), read.line_runs()
            self.problems[name] = {number: row.problems for number, row in read.unreadable.items()}
            self.unreadable[name] = {number: row.values for number, row in read.unreadable.items()}
            self._columns[name] = read.frame
            return read.frame
        frames: list[pl.DataFrame] = []
        batch: list[Row] = []
        for row in self._visit(self._remember(name, rows), "reading"):
            if row.problems:
                continue
            batch.append(row)
            if len(batch) == chunk:
                frames.append(frame_of(contract, batch))
                batch = []
        if batch or not frames:
            frames.append(frame_of(contract, batch))
        frame = pl.concat(frames, how="vertical_relaxed", rechunk=True) if len(frames) > 1 else frames[0]
        self._columns[name] = frame
        return frame

    def _screen_lookups(self, frame: pl.DataFrame, plan: RulePlan) -> None:
        """A lookup rule's screen: each lookup joined and aggregated per member row; a member
        whose linked rows cannot all be tested (``where`` or the argument in error) is picked."""
        assert plan.screen is not None and plan.member is not None
        # Only what the lookups read of a member is carried into the joins.
        reads = {column for lookup in plan.lookups for column in _reads(lookup) if column in frame.columns}
        members = frame.lazy().with_columns(plan.member).filter("__member").select("__row", *reads).collect()
        names: list[pl.DataFrame] = []
        unsure: list[pl.DataFrame] = []
        links: list[pl.DataFrame] = []  # (member row, linked row) per lookup
        for number, lookup in enumerate(plan.lookups):
            other = self._other_frame(lookup.table, lookup.alias, self.plan.tables[plan.rule.table].needed)
            parts = [f"__ok{part}" for part in range(len(lookup.other_keys))]
            # One row per combination of the key parts' alternatives, as product() indexes them;
            # a row whose keys cannot be computed is not indexed at all.
            failed = pl.lit(False)
            for alternatives in lookup.other_keys:
                for alternative in alternatives:
                    failed = failed | alternative.err
            exploded = other.with_columns(
                *(pl.concat_list([alternative.value for alternative in alternatives]).alias(column)
                  for alternatives, column in zip(lookup.other_keys, parts, strict=True)),
                failed.alias("__ofail")).filter(~pl.col("__ofail"))
            for column in parts:
                exploded = exploded.explode(column)
            exploded = exploded.filter(pl.all_horizontal(pl.col(column).is_not_null() for column in parts))
            keys = [f"__lk{part}" for part in range(len(lookup.record_keys))]
            left = members.with_columns(
                *(key.value.alias(column) for key, column in zip(lookup.record_keys, keys, strict=True)))
            for key_column, other_column in zip(keys, parts, strict=True):
                if left.schema[key_column] != exploded.schema[other_column]:
                    raise Unsupported(f"the link of {lookup.name} compares {left.schema[key_column]} with "
                                      f"{exploded.schema[other_column]}")
            linked = left.join(exploded, left_on=keys, right_on=parts, how="inner")
            links.append(linked.select("__row", pl.col(f"{lookup.alias}.__row").alias("__other")))
            where = lookup.where
            kept = certain(where) if where is not None else pl.lit(True)
            argument = lookup.argument
            bad = where.err if where is not None else pl.lit(False)
            if argument is not None:
                bad = bad | (kept & argument.err)
            value = argument.value if argument is not None else pl.lit(1)
            linked = linked.with_columns(bad.fill_null(True).alias("__bad"), kept.alias("__kept"),
                                         value.alias("__arg"))
            unsure.append(linked.group_by("__row").agg(pl.col("__bad").any().alias(f"__u{number}")))
            used = linked.filter("__kept")
            argument_column = pl.col("__arg")
            aggregate = {"count": pl.len(), "sum": argument_column.sum(), "min": argument_column.min(),
                         "max": argument_column.max(),
                         "count_distinct": argument_column.drop_nulls().n_unique()}[lookup.function]
            names.append(used.group_by("__row").agg(aggregate.alias(f"__n.{lookup.name}")))
        result = frame.select(pl.exclude("__member"))
        for table in names:
            result = result.join(table, on="__row", how="left", maintain_order="left")
        for table in unsure:
            result = result.join(table, on="__row", how="left", maintain_order="left")
        flags = [pl.col(f"__u{number}").fill_null(False) for number in range(len(unsure))]
        defaults = []
        for lookup in plan.lookups:
            column = f"__n.{lookup.name}"
            if lookup.function in ("count", "count_distinct", "sum"):  # over no linked row: 0
                defaults.append(pl.col(column).fill_null(0))
        result = result.with_columns(*defaults, pl.any_horizontal(flags).alias("__unsure") if flags
                                     else pl.lit(False).alias("__unsure"))
        picked = result.lazy().with_columns(plan.member).filter(plan.screen).select("__row").collect()
        self._picked[_name(plan.rule)] = picked["__row"].to_list()
        self._members[_name(plan.rule)] = []
        # The rows of the looked-up tables linked to a picked row: the reference's lookup index
        # for those rows needs no other (a key's rows are all linked to the rows with that key).
        self._linked[_name(plan.rule)] = {
            lookup.table: set(link.filter(pl.col("__row").is_in(picked["__row"].implode()))["__other"].to_list())
            for lookup, link in zip(plan.lookups, links, strict=True)}

    def _other_frame(self, table: str, alias: str, needed: Collection[str]) -> pl.DataFrame:
        """A looked-up table's readable rows, its columns named ``<alias>.<field>``."""
        contract = self.contracts[table]
        fields = {field for field in contract.fields if f"{alias}.{field}" in needed}
        frame = self._table_frame(table, fields, prefix=f"{alias}.")
        return frame.rename({"__row": f"{alias}.__row"}).with_columns(pl.lit(True).alias(f"{alias}.__present"))

    def _related(self, fact: str, other: Table, parts: int, fields: Collection[str]) -> pl.DataFrame:
        """A related table's rows by key, as the relation sees them: from its columns when the
        reader gave them, else from its index (see :func:`related_frame`)."""
        index = self.indexes.get(other.name, {})
        given = self._given.get(other.name)
        if not isinstance(index, ColumnIndex) or given is None or not set(fields) <= set(given.frame.columns):
            return related_frame(fact, other, index, parts, fields)
        frame = given.frame.filter(pl.col("__row").is_in(index.numbers()))
        if len(other.key) != parts or frame.select(pl.any_horizontal(pl.col(other.key).is_null())).to_series().any():
            raise Unsupported(f"the keys of {other.name} do not fit the relation {fact}")
        wanted = [column for field in other.fields if field in fields
                  for column in (field, f"{field}.__text") if column in frame.columns]
        return frame.select(*(pl.col(column).alias(f"{fact}.{column}") for column in wanted),
                            *(pl.col(key).alias(f"{fact}.__k{part}") for part, key in enumerate(other.key)),
                            pl.lit(True).alias(f"{fact}.__present"))

    def _table_frame(self, name: str, fields: Collection[str], prefix: str = "") -> pl.DataFrame:
        """A held table's readable rows with these fields: from the columns the reader gave,
        else built from its records (see :func:`frame_of`)."""
        contract = self.contracts[name]
        rows = self.tables.get(name, Rows(contract))
        given = self._given.get(name)
        if given is None or not isinstance(rows, Rows) or not set(fields) <= set(given.frame.columns):
            return frame_of(contract, rows, fields, prefix=prefix)
        wanted = [column for field in contract.fields if field in fields
                  for column in (field, f"{field}.__text") if column in given.frame.columns]
        frame = given.frame.select("__row", *wanted)
        if rows.problems:  # rows found unreadable after reading (a repeated key)
            frame = frame.filter(~pl.col("__row").is_in(sorted(rows.problems)))
        return frame.rename({column: f"{prefix}{column}" for column in wanted}) if prefix else frame

    def _screen_group(self, frame: pl.DataFrame, plan: RulePlan) -> None:
        """A group rule's screen, and the members of the groups with a row picked."""
        for derived in plan.derived:
            frame = derive(frame, derived)
        lazy = frame.lazy()
        assert plan.screen is not None and plan.member is not None
        partition = [*plan.keys, pl.col("__member")]
        result = (lazy.with_columns(plan.member).with_columns(**plan.names)
                  .with_columns(plan.screen.alias("__pick"))
                  .with_columns(pl.col("__pick").any().over(partition).alias("__group"))
                  .select("__row", "__member", "__pick", "__group").collect())
        self._picked[_name(plan.rule)] = result.filter("__pick")["__row"].to_list()
        self._members[_name(plan.rule)] = result.filter(pl.col("__member") & pl.col("__group"))["__row"].to_list()

    def _frame(self, name: str, table_plan: TablePlan) -> pl.DataFrame:
        contract = table_plan.table
        if table_plan.reason is not None:
            raise Unsupported(table_plan.reason)
        needed = table_plan.needed
        rows = self.tables[name]
        if isinstance(rows, StreamedRows):
            try:
                frame = self._streamed_frame(name, rows)
            except _FAILURES:  # a value Polars cannot hold: keep the table's records after all
                self.tables[name] = Rows(contract, rows)
                self.keys.pop(name, None)
                self.problems.pop(name, None)
                raise
        else:
            frame = self._table_frame(name, {field for field in contract.fields if field in needed})
        # The screens read only these: the rest (kept to rebuild picked rows) is not carried along.
        frame = frame.select(column for column in frame.columns
                             if column.startswith("__") or column in needed or column.split(".__")[0] in needed)
        for derived in table_plan.derived:
            frame = derive(frame, derived)
        table = contract
        school_year = table_plan.school_year and table.fields.get("school_year") == "text"
        if school_year:  # a label's first day, worked out once per distinct label
            frame = frame.with_columns(mapped(frame["school_year"], _school_year_starts, pl.Date).alias("__sy"))
        for join in table_plan.joins:
            other = self.contracts[join.table]
            fields = {field for field in other.fields if f"{join.fact}.{field}" in needed}
            related = self._related(join.fact, other, len(join.keys), fields)
            left = [f"{join.fact}.__j{part}" for part in range(len(join.keys))]
            right = [f"{join.fact}.__k{part}" for part in range(len(join.keys))]
            frame = frame.with_columns(*(pl.when(key.err).then(None).otherwise(key.value).alias(column)
                                         for key, column in zip(join.keys, left, strict=True)))
            casts = []
            for left_column, right_column in zip(left, right, strict=True):
                wanted = frame.schema[left_column]
                if related.schema[right_column] != wanted:
                    if related.height and wanted != pl.Null:
                        raise Unsupported(f"the key of {join.fact} is {wanted}, {join.table}'s is "
                                          f"{related.schema[right_column]}")
                    casts.append(pl.col(right_column).cast(wanted if wanted != pl.Null else pl.String))
            if casts:
                related = related.with_columns(casts)
            for left_column, right_column in zip(left, right, strict=True):
                if frame.schema[left_column] == pl.Null:
                    frame = frame.with_columns(pl.col(left_column).cast(related.schema[right_column]))
            # The related columns only, row for row (the index is unique: one match at most), put
            # beside the frame: a join of the whole frame would copy every column of it.
            joined = frame.select(left).join(related, left_on=left, right_on=right, how="left", maintain_order="left")
            if joined.height != frame.height:
                raise Unsupported(f"the keys of {join.table} are not unique")
            frame = frame.hstack(joined.drop(left).get_columns())
        if table.date_field is not None and table.fields.get(table.date_field) == "date":
            day = pl.col(table.date_field).fill_null(pl.lit(self.as_of))
        else:
            day = pl.lit(self.as_of)
        frame = frame.with_columns(day.alias("__d"), table_plan.state.cast(pl.String).alias("__state"))
        school_day = pl.coalesce("__sy", "__d") if school_year else pl.col("__d")
        return frame.with_columns(school_day.alias("__sy"))

    def _single(self, name: str) -> None:
        """The findings of a table's single-row rules, on the rows any of their screens picked."""
        picked: set[int] = set()
        for plan in self.plan.tables[name].rules:
            if plan.rule.batch is None and _name(plan.rule) in self._picked:
                picked.update(self._picked[_name(plan.rule)])
        if not picked:
            return
        compiled = self.evaluator.tables[name]
        findings = self.evaluator.findings
        if name in self.keys and name == MONEY_TABLE:
            picked -= self.history  # the reference judges no history row of a streamed table
        for number in sorted(picked):
            row = self._row(name, number)
            values = row.values
            found = self._checked(findings(name, values, compiled.day_of(values, self.as_of), self.indexes,
                                           self.masked))
            if found:
                self.findings[name][number] = found

    def _decide_batch(self, rule: BatchRule) -> None:
        rule_id, key = rule.rule.id, _name(rule.rule)
        name = rule.table.name
        picked = self._picked.get(key)
        columnar = key in self._members
        if picked is None:  # the table was given no frame: every row
            picked = self._all(name)
        if rule.batch.group_by:
            self._fold(rule, self._members[key] if columnar else picked)
        elif not picked:
            return  # no member may have a finding: no lookup index to build
        if rule.by_group:
            self._decide_groups(rule)
            return
        verdicts = _Verdicts(rule, self.groups.get(rule_id), self._linked_lookups(rule) if picked else None,
                             self.masked)
        compiled = self.evaluator.tables[name]
        for number in picked:
            row = self._row(name, number)
            verdicts.visit(row, self._context(compiled, row))
        self._record(verdicts)

    def _linked_lookups(self, rule: BatchRule) -> Callable[[Member], dict[str, Any]] | None:
        """The rule's lookups as the reference computes them, their indexes built over the rows
        linked to the picked rows only when the screen found those (else over every row)."""
        linked = self._linked.get(_name(rule.rule))
        if not rule.lookups or linked is None or len(linked) != len({lookup.table for lookup in rule.lookups}):
            return self._lookups(rule)

        def readable(table: str) -> Iterator[tuple[int, Values]]:
            for number in sorted(linked[table]):
                yield number, self._row(table, number).values

        return lookup_names(rule, readable, self.passes)

    def _fold(self, rule: BatchRule, numbers: Iterable[int]) -> None:
        """Fold these rows into the rule's groups, as the reference's gather pass does."""
        name = rule.table.name
        compiled = self.evaluator.tables[name]
        for number in numbers:
            row = self._row(name, number)
            self._fold_row(rule, name, row, self._context(compiled, row))

    def _tally(self, name: str, rows: Sequence[Row]) -> None:
        """Count a table's rows and add up its money: unreadable rows, history and rows with
        findings one by one, the passing rest at once (from the columns where there are some)."""
        if name in self.keys:  # a streamed table, as its one pass remembered it
            problems, count = self.problems[name], len(self.keys[name])
        elif isinstance(rows, Rows):
            problems, count = rows.problems, len(rows)
        else:
            problems, count = {row.number: row.problems for row in rows if row.problems}, len(rows)
        money = self.money if name == MONEY_TABLE else None
        for number in sorted(problems):
            self.outcome.count(Status.UNREADABLE, error_findings(problems[number]))
            if money is not None:
                money.unreadable()
        history = self.history if name == MONEY_TABLE else set()
        with_findings = {*self.findings[name], *self.batch[name]} - history
        for number in sorted(with_findings):
            found = self._found(name, number)
            self.outcome.count(status_of(found), found)
            if money is not None:
                money.add(self._row(name, number).values, found)
            elif self.money is not None and found:
                self.money.group(Decision(name, number, self._key(name, number), status_of(found), tuple(found)))
        for number in sorted(history):
            self.outcome.count(Status.HISTORY, ())
            if money is not None:
                money.history(self._row(name, number).values)
        passing = count - len(problems) - len(with_findings) - len(history)
        self.outcome.rows += passing
        self.outcome.statuses[Status.PASS] += passing
        if money is not None and passing:
            self._add_passing(name, money, {*with_findings, *history})

    def _add_passing(self, name: str, money: MoneyTally, not_passing: set[int]) -> None:
        """The money of the payout rows that pass with no finding, summed over the columns."""
        frame = self._columns.get(name)
        if frame is None or AMOUNT not in frame.columns:
            for number in self._all(name):
                if number not in not_passing:
                    money.add(self._row(name, number).values, ())
            return
        amounts = frame.lazy().filter(~pl.col("__row").is_in(sorted(not_passing))).select(
            pl.col(AMOUNT).sum().alias("total"), pl.len().alias("rows"), pl.col(AMOUNT).null_count().alias("none"),
        ).collect().row(0)
        total, rows, none = amounts
        money.add_passing(Decimal(total) if total is not None else Decimal(0), rows, none)

    def _key(self, name: str, number: int) -> str:
        return self.keys[name][number - 1] if name in self.keys else self._row(name, number).key

    # -- writing --------------------------------------------------------------------------------
    def blocks(self) -> Iterator[Decision | TableBlock]:
        """Every table in bulk: its keys and lines as columns; the decisions of the rows that do
        not simply pass are made one by one, by the reference's code."""
        for name, rows in self.tables.items():
            if name in self.keys or isinstance(rows, Rows):
                yield self._block(name, rows)
            else:
                key_masked = self._key_masked(name)
                yield from (self._decision(name, row, key_masked) for row in rows)

    def _block(self, name: str, rows: Sequence[Row]) -> TableBlock:
        key_masked = self._key_masked(name)
        if name in self.keys:  # a streamed table, as its one pass remembered it
            keys, lines, problems = self.keys[name], self.lines[name], self.problems[name]
            unreadable, empty = self.unreadable[name], self.contracts[name].record_of({})
            row_of: Callable[[int], Row] = lambda number: Row(  # noqa: E731
                number, unreadable.get(number, empty), problems.get(number, ()), keys[number - 1], lines.of(number))
        else:
            assert isinstance(rows, Rows)
            given = self._given.get(name)
            keys = cast(Sequence[str], given.keys) if given is not None and isinstance(rows.records, KeyedRecords) \
                else list(map(self.contracts[name].key_of, rows.records))
            lines, problems = rows.lines, rows.problems
            row_of = lambda number: rows[number - 1]  # noqa: E731
        count = len(keys)
        special = {*self.findings[name], *self.batch[name], *problems}
        if name == MONEY_TABLE:
            special |= self.history
        others = {number: self._decision(name, row_of(number), key_masked) for number in sorted(special)}
        return TableBlock(name, [MASKED] * count if key_masked else keys, lines.upto(count), others)

    # -- rows -----------------------------------------------------------------------------------
    def _all(self, name: str) -> list[int]:
        rows = self.tables[name]
        if name in self._columns:
            return self._columns[name]["__row"].to_list()
        if isinstance(rows, Rows):
            return [number for number in range(1, len(rows) + 1) if number not in rows.problems]
        return [row.number for row in rows if not row.problems]

    def _row(self, name: str, number: int) -> Row:
        """A table's row by number (rows are numbered in order, usually without gaps)."""
        if name in self._columns:
            return self._rebuilt(name, number)
        rows = self.tables[name]
        position = self._positions.get(name)
        if position is None:
            first = rows[0].number if len(rows) else 0
            if len(rows) and rows[len(rows) - 1].number == first + len(rows) - 1:
                position = self._positions[name] = first
            else:
                position = self._positions[name] = {row.number: index for index, row in enumerate(rows)}
        row: Row = rows[number - position] if isinstance(position, int) else rows[position[number]]
        return row


    def _prefetch(self, name: str) -> None:
        """Rebuild at once the rows of a streamed table that any screen picked."""
        numbers: set[int] = set()
        for plan in self.plan.tables[name].rules:
            numbers.update(self._picked.get(_name(plan.rule), ()))
            numbers.update(self._members.get(_name(plan.rule), ()))
        frame = self._columns[name].filter(pl.col("__row").is_in(sorted(numbers)))
        contract = self.contracts[name]
        fields = list(contract.fields.items())
        cache = self._rows_cache.setdefault(name, {})
        line_of = self.lines[name].of
        for cells in frame.iter_rows(named=True):
            cache[cells["__row"]] = self._row_of(contract, fields, cells, line_of(cells["__row"]))

    @staticmethod
    def _row_of(contract: Table, fields: Sequence[tuple[str, str]], cells: dict[str, Any],
                line: int | None) -> Row:
        values = [Decimal(cells[f"{field}.__text"]) if kind == "decimal" and cells[field] is not None
                  else cells[field] for field, kind in fields]
        record = contract.record_type(values)
        return Row(cells["__row"], record, (), contract.key_of(record), line)

    def _rebuilt(self, name: str, number: int) -> Row:
        """A readable row of a streamed table, from its columns: the same values the reader
        gave (a decimal from its text, so 2.50 stays 2.50)."""
        cached = self._rows_cache.get(name, {}).get(number)
        if cached is not None:
            return cached
        frame = self._columns[name]
        contract = self.contracts[name]
        position = frame["__row"].search_sorted(number)
        assert isinstance(position, int)
        return self._row_of(contract, list(contract.fields.items()), frame.row(position, named=True),
                            self.lines[name].of(number))


def _name(rule: Rule) -> str:
    """A rule's name among the screens: its id, and its check's name (the checks of one rule
    share its id)."""
    return rule.id if rule.check is None else f"{rule.id}/{rule.check}"


def _reads(lookup: LookupPlan) -> set[str]:
    """The columns a lookup's keys, ``where`` and argument read."""
    found: set[str] = set()
    for value in [*lookup.record_keys, lookup.where, lookup.argument]:
        if value is not None:
            found |= set(value.value.meta.root_names()) | set(value.err.meta.root_names())
    return found


def derive(frame: pl.DataFrame, derived: Derived) -> pl.DataFrame:
    """Add a derived column: the function called once per distinct argument tuple.

    Arguments are the values the reference would pass: a decimal column's exact text is read
    back as the same ``Decimal``; any other decimal (computed, from a parameter) is refused,
    since its column scale could differ from the reference's value. A call that raises is an
    error (``<name>.__err``), as is a call with an argument in error.
    """
    selected = [pl.col("__row")]
    for index, (value, text) in enumerate(zip(derived.arguments, derived.decimal_text, strict=True)):
        selected.append((pl.col(value.text) if text and value.text else value.value).alias(f"a{index}"))
        selected.append(value.err.fill_null(True).alias(f"e{index}"))
    arguments = frame.select(selected)
    columns = [f"a{index}" for index in range(len(derived.arguments))]
    for index, column in enumerate(columns):
        if isinstance(arguments.schema[column], pl.Decimal) and not derived.decimal_text[index]:
            raise Unsupported("a function of a computed decimal")
    errors = [f"e{index}" for index in range(len(derived.arguments))]
    arguments = arguments.with_columns(pl.any_horizontal(errors).alias("__e") if errors else pl.lit(False))
    distinct = arguments.filter(~pl.col("__e")).select(columns).unique(maintain_order=True)
    results: list[Any] = []
    failed: list[bool] = []
    for values in distinct.iter_rows():
        python = [Decimal(value) if text and value is not None else value
                  for value, text in zip(values, derived.decimal_text, strict=True)]
        try:
            results.append(derived.function(*python))
            failed.append(False)
        except Exception:  # any refusal leaves the row to the reference
            results.append(None)
            failed.append(True)
    kinds = {type(result) for result in results if result is not None}
    if len(kinds) > 1 or kinds & {float, dict, tuple, set}:
        # A column holds one kind: mixed results (1 and "1") would be coerced and compare wrongly.
        raise Unsupported(f"{getattr(derived.function, '__name__', 'a function')}() gives values of several kinds")
    table = distinct.with_columns(pl.Series("__v", results, strict=True),
                                  pl.Series("__x", failed, dtype=pl.Boolean))
    if columns:
        joined = arguments.join(table, on=columns, how="left", nulls_equal=True, maintain_order="left")
    else:
        joined = arguments.with_columns(pl.lit(results[0] if results else None).alias("__v"),
                                        pl.lit(failed[0] if failed else True).alias("__x"))
    error = (joined["__e"] | joined["__x"].fill_null(True)).alias(f"{derived.name}.__err")
    return frame.with_columns(joined["__v"].alias(derived.name), error)
