"""The values every stage passes on: severities, sources, findings, decisions and reports.

A leaf module: it imports nothing of mentorrules, so that a report writer, a session or another
program can use these types without loading the engine.

    >>> finding = Finding("STIPEND-002", Severity.ERROR, "amount 0.00 must be greater than 0")
    >>> Decision("payouts", 1, "P-1", status_of([finding]), (finding,)).status.value
    'fail'
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol, overload, runtime_checkable

CANNOT_CHECK_PREFIX = "cannot check: "  # how a finding says its rule could not be checked
# The version of the JSON contract (docs/contract.md): MAJOR.MINOR. A minor version adds (a key,
# a status); a major one removes, renames or changes the meaning of something.
FORMAT = "1.0"


class Severity(StrEnum):
    """How much a finding matters: only ``error`` makes a row fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: the document, its section and a link."""

    title: str
    section: str | None = None
    url: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {key: value for key, value in (("title", self.title), ("section", self.section),
                                              ("url", self.url), ("note", self.note)) if value}

    def __str__(self) -> str:
        text = self.title + (f", {self.section}" if self.section else "")
        return text + (f" <{self.url}>" if self.url else "")


class Status(StrEnum):
    """A record's outcome: ``fail`` has an error-severity finding, ``unreadable`` could not be
    read (so that "error" is only ever a finding's severity), ``history`` was outside the period.

    ``ERROR`` is the former name of ``UNREADABLE`` (the same member).
    """

    PASS = "pass"
    FAIL = "fail"
    UNREADABLE = "unreadable"
    ERROR = "unreadable"  # the former name, kept for callers written against it
    HISTORY = "history"  # a payout before the period judged (validate --period): read, not judged


@dataclass(frozen=True)
class Finding:
    """A rule that does not hold for a record, in words a person can act on.

    ``parameters`` shows each parameter value used, with the date it took effect.
    """

    rule: str
    severity: Severity
    message: str
    source: Source | None = None
    parameters: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    cannot_check: bool = False  # the rule could not be checked (a value it needs is missing): not a failure
    # Of a rule comparing two amounts (a cap, a required match): by how much it failed, in
    # dollars, and which way ("excess" over a limit, "shortfall" under a minimum).
    gap: Decimal | None = None
    gap_kind: str | None = None
    district: str | None = None  # of a finding on a group record: the district its rows are in
    check: str | None = None  # which of the rule's `checks:` failed, for a rule that has several

    @classmethod
    def unchecked(cls, rule: str, severity: Severity, reason: str, source: Source | None = None) -> Finding:
        """A finding saying the rule could not check the record, and why: it has the rule's
        severity (a missing value is never taken as a pass) but is not a failure of the rule.

        >>> Finding.unchecked("NMP-007", Severity.ERROR, "pairing.start_date is empty").message
        'cannot check: pairing.start_date is empty'
        """
        return cls(rule, severity, CANNOT_CHECK_PREFIX + reason, source, cannot_check=True)

    def to_dict(self) -> dict[str, Any]:
        """The finding as the JSON report shows it.

        >>> Finding("STIPEND-002", Severity.ERROR, "amount is 0").to_dict()
        {'rule': 'STIPEND-002', 'severity': 'error', 'message': 'amount is 0', 'source': None}
        """
        result: dict[str, Any] = {"rule": self.rule, "severity": self.severity.value,
                                  "message": self.message,
                                  "source": self.source.to_dict() if self.source else None}
        if self.parameters:
            result["parameters"] = list(self.parameters)
        if self.rows:
            result["rows"] = list(self.rows)
        if self.gap is not None and self.gap_kind:
            result[self.gap_kind] = f"{self.gap:.2f}"
        if self.district:
            result["district"] = self.district
        if self.check:
            result["check"] = self.check
        return result


@dataclass(frozen=True)
class RowProblem:
    """Why one cell (or a whole row, ``column`` None) of an unreadable row could not be read.

    ``value`` is the cell as written, as text (None when empty, or masked).

    >>> RowProblem("amount", "1,200", "MR310", "column 'amount': '1,200' is not a decimal amount").to_dict()
    {'column': 'amount', 'value': '1,200', 'problem': "column 'amount': '1,200' is not a decimal amount", \
'code': 'MR310'}
    """

    column: str | None
    value: str | None
    code: str
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "value": self.value, "problem": self.problem, "code": self.code}


@dataclass(frozen=True)
class Decision:
    """What the rules say about one record.

    ``problems`` says, cell by cell, why a row of status ``error`` could not be read. A decision
    made by ``Engine.evaluate`` can tell how each rule went (:meth:`trace`).

    >>> Decision("payouts", 1, "P-1", Status.PASS, ()).status.value
    'pass'
    """

    table: str
    row: int
    key: str
    status: Status
    findings: tuple[Finding, ...]
    problems: tuple[RowProblem, ...] = ()
    # The row as the file or sheet numbers it (header = line 1), where the input has lines.
    line: int | None = None
    # Computes the trace on demand: the fast path records nothing. Not part of the value.
    tracer: Callable[[], list[dict[str, Any]]] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The decision as a record of the JSON report.

        >>> Decision("payouts", 1, "P-1", Status.PASS, ()).to_dict()
        {'table': 'payouts', 'row': 1, 'key': 'P-1', 'status': 'pass', 'findings': []}
        """
        result = {"table": self.table, "row": self.row, **({"line": self.line} if self.line is not None else {}),
                  "key": self.key, "status": self.status.value,
                  "findings": [finding.to_dict() for finding in self.findings]}
        if self.problems:
            result["problems"] = [problem.to_dict() for problem in self.problems]
        return result

    def document(self, digest: str, version: str, **extra: Any) -> dict[str, Any]:
        """The decision as a JSON document of its own (``schemas/decision.schema.json``): the
        contract's ``format``, the engine version and the policy digest, then the record;
        ``extra`` keys (a ``decision_id``, a ``trace``) follow.

        >>> Decision("payouts", 1, "P-1", Status.PASS, ()).document("sha256:0", "0.1.0")["format"]
        '1.0'
        """
        return {"format": FORMAT, "mentorrules": version, "digest": digest, **self.to_dict(), **extra}

    def trace(self) -> list[dict[str, Any]]:
        """How each rule went for this record, as JSON-able dicts (the ``trace`` of
        ``schemas/decision.schema.json``): whether it applies, holds, fails or was not checked,
        each sub-expression's value, and the parameters with the date they took effect.

        Only decisions of ``Engine.evaluate`` (and of the HTTP service's prepared context) know
        their record's world; others raise ``MentorRulesError`` MR430.

            decision = engine.evaluate(payout, related=related)
            [step["rule"] for step in decision.trace() if step["outcome"] == "fails"]
        """
        if self.tracer is None:
            from mentorrules.errors import Location, MentorRulesError, Problem

            raise MentorRulesError([Problem(
                "MR430", "this decision has no trace: only a decision of Engine.evaluate knows its record's world",
                Location(self.table, row=self.row), hint="use Engine.explain, or explain_to_dict of its explanations")])
        return self.tracer()


def status_of(findings: Sequence[Finding]) -> Status:
    return Status.FAIL if any(f.severity is Severity.ERROR for f in findings) else Status.PASS


@dataclass
class Outcome:
    """What a run found: the findings of the rows that have some, group records, the summary."""

    groups: list[Decision] = field(default_factory=list)
    rows: int = 0
    statuses: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    severities: dict[Severity, int] = field(default_factory=lambda: dict.fromkeys(Severity, 0))
    money: dict[str, Any] | None = None  # summary.money, when the run had payouts (checking/money.py)
    period: dict[str, str] | None = None  # summary.period, when the run judged a period

    def count(self, status: Status, findings: Iterable[Finding]) -> None:
        self.rows += 1
        self.statuses[status] += 1
        for finding in findings:
            self.severities[finding.severity] += 1

    @property
    def summary(self) -> dict[str, Any]:
        """Row counts by status and finding counts by severity (the JSON report's ``summary``)."""
        severities = dict(self.severities)
        for group in self.groups:
            for finding in group.findings:
                severities[finding.severity] += 1
        # "history" only when a period was judged: without one, every row is judged.
        statuses = [status for status in Status if status is not Status.HISTORY or self.period is not None]
        summary: dict[str, Any] = {"rows": self.rows, **{status.value: self.statuses[status] for status in statuses},
                                   "findings": {severity.value: severities[severity] for severity in Severity}}
        if self.period is not None:
            summary["period"] = dict(self.period)
        if self.groups:
            summary["groups"] = {"records": len(self.groups),
                                 "fail": sum(group.status is Status.FAIL for group in self.groups)}
        if self.money is not None:
            summary["money"] = copy.deepcopy(self.money)
        return summary


@dataclass(frozen=True)
class TableBlock:
    """Every row of one table, in input order, in bulk: a run hands a large table to the report
    writers so (:meth:`Records.blocks`) rather than as one :class:`Decision` per row. The rows
    numbered in ``others`` have those decisions (findings, history, unreadable); every other row
    passes with no finding. ``keys`` and ``lines`` hold one value per row (lists or Polars
    series), row 1 first.

    >>> block = TableBlock("payouts", ["P-1", "P-2"], [2, 3], {})
    >>> len(block), list(block.decisions())[1].to_dict()
    (2, {'table': 'payouts', 'row': 2, 'line': 3, 'key': 'P-2', 'status': 'pass', 'findings': []})
    """

    table: str
    keys: Sequence[str]
    lines: Sequence[int | None]
    others: Mapping[int, Decision]

    def __len__(self) -> int:
        return len(self.keys)

    def decisions(self) -> Iterator[Decision]:
        """The same rows as decisions, one by one."""
        others, table = self.others, self.table
        for number, (key, line) in enumerate(zip(self.keys, self.lines, strict=True), start=1):
            yield others.get(number) or Decision(table, number, key, Status.PASS, (), line=line)


@runtime_checkable
class InBlocks(Protocol):
    """Decisions that can also be given with their passing rows in bulk."""

    def blocks(self) -> Iterator[Decision | TableBlock]: ...


class Records(Sequence[Decision]):
    """A report's records: its decisions on the input rows in order, then its group records."""

    def __init__(self, decisions: Sequence[Decision], groups: Sequence[Decision]) -> None:
        self._decisions = decisions
        self._groups = groups
        self._kept: list[Decision] | None = None

    def __iter__(self) -> Iterator[Decision]:
        yield from self._decisions
        yield from self._groups

    def blocks(self) -> Iterator[Decision | TableBlock]:
        """The records in order, whole tables as :class:`TableBlock` where the decisions come so
        (the same records as iterating; writers of every row use it)."""
        if self._kept is None and isinstance(self._decisions, InBlocks):
            yield from self._decisions.blocks()
        else:
            yield from self._decisions
        yield from self._groups

    def flagged(self) -> Iterator[Decision]:
        """The records, less the passing rows of tables given in bulk: every record with a
        finding is among them (writers that list findings use it)."""
        for block in self.blocks():
            if isinstance(block, TableBlock):
                yield from block.others.values()
            else:
                yield block

    def __len__(self) -> int:
        return len(self._decisions) + len(self._groups)

    @overload
    def __getitem__(self, index: int) -> Decision: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Decision]: ...
    def __getitem__(self, index: int | slice) -> Decision | Sequence[Decision]:
        if self._kept is None:
            self._kept = [*self._decisions, *self._groups]
        return self._kept[index]


@dataclass(frozen=True)
class Report:
    """The decisions on every input row, with what produced them.

    ``to_dict()`` is the JSON report: engine version, packs, the digest of the rules and
    parameters in force, a summary and one record per input row, in input order, then the
    group records. The decisions of a large data set are made as they are visited, so a report
    can be written as a stream.

    >>> from mentorrules import Decision, Finding, Severity, Status
    >>> finding = Finding("STIPEND-002", Severity.ERROR, "amount 0.00 must be greater than 0")
    >>> report = Report("0.1.0", (("core", "0.1.0"),), "sha256:0",
    ...                 (Decision("payouts", 1, "P-1", Status.FAIL, (finding,)),))
    >>> report.summary["fail"], report.clean, report.to_dict()["records"][0]["key"]
    (1, False, 'P-1')
    """

    version: str
    packs: tuple[tuple[str, str], ...]
    digest: str
    decisions: Sequence[Decision]
    sources: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[Decision, ...] = ()
    masked: tuple[str, ...] = ()  # personal columns masked in this report
    totals: Mapping[str, Any] | None = None  # the summary, when the run counted it already
    not_checked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # rule -> tables not given
    # Parameters marked illustrative (no public source) that the rules run read:
    # (pack, name, ((from date, value as shown), ...)).
    illustrative: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    ignored: Mapping[str, str] = field(default_factory=dict)  # files of a data folder not read -> why
    notes: tuple[str, ...] = ()  # about the input as a whole: cell problems summarised per column

    @property
    def summary(self) -> dict[str, Any]:
        """Row counts by status and finding counts by severity.

        >>> Report("0", (), "sha256:0", ()).summary
        {'rows': 0, 'pass': 0, 'fail': 0, 'unreadable': 0, 'findings': {'error': 0, 'warning': 0, 'info': 0}}
        """
        if self.totals is not None:
            return copy.deepcopy(dict(self.totals))
        outcome = Outcome(groups=list(self.groups))
        for decision in self.decisions:
            outcome.count(decision.status, decision.findings)
        return outcome.summary

    def records_of(self, table: str) -> list[Decision]:
        """The decisions on the rows of one table, in input order."""
        return [decision for decision in self.decisions if decision.table == table]

    @cached_property
    def records(self) -> Records:
        """Every record of the report: the input rows in order, then group records."""
        return Records(self.decisions, self.groups)

    @property
    def clean(self) -> bool:
        """True when no row fails or is in error (the CLI then exits 0)."""
        summary = self.summary
        return summary["fail"] == summary["unreadable"] == 0 and not summary.get("groups", {}).get("fail")

    def head(self) -> dict[str, Any]:
        """The JSON report without its records: contract format, version, packs, digest, summary
        (masked, not checked)."""
        return {"format": FORMAT, "mentorrules": self.version,
                "packs": [{"name": name, "version": version} for name, version in self.packs],
                "digest": self.digest, "summary": self.summary,
                **({"masked": list(self.masked)} if self.masked else {}),
                **({"not_checked": [{"rule": rule, "tables": list(tables)}
                                    for rule, tables in self.not_checked.items()]} if self.not_checked else {}),
                **({"illustrative": [{"pack": pack, "parameter": name, "values": dict(values)}
                                     for pack, name, values in self.illustrative]} if self.illustrative else {}),
                **({"ignored": [{"file": path, "why": why} for path, why in self.ignored.items()]}
                   if self.ignored else {}),
                **({"notes": list(self.notes)} if self.notes else {})}

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as a dict (see docs/reference.md, "The JSON report")."""
        return {**self.head(), "records": [decision.to_dict() for decision in self.records]}
