"""Facts posted one at a time -> findings as soon as they are derivable.

    >>> from mentorrules import Engine
    >>> engine = Engine.load()                                       # doctest: +SKIP
    >>> with engine.session() as session:                            # doctest: +SKIP
    ...     changed = session.post("payouts", {"payout_id": "P-1", ...})
    ...     session.findings()

A session keeps its facts in a :class:`~mentorrules.sessions.correlation.Correlator`: durable-rules
(Rete, in a supervised worker process) where it is installed, the engine's own Python
correlator elsewhere; both give the same events. The correlator answers two questions (set
up by :class:`~mentorrules.sessions.linking.Plan`): which batch rules a new fact takes part in
(patterns), and which facts are linked to it (joins: a payout to its payee, a payout to the
pairings and attendance its lookups count). Money, dates and aggregates never leave Python:
the findings of every record touched by a post or a retraction are recomputed with the same
code the batch path uses, so a session over a set of facts gives exactly the findings
``Engine.validate`` gives for them.

A post or a retraction is all or nothing: every change to the session's state goes through a
:class:`Journal`, and if anything fails half-way the session is put back as it was.

``post`` and ``retract`` return the decisions that changed (the posted record's first),
including batch findings a new fact makes true (a third installment, a 16th mentee) or false
again (after a retraction).

A fact is a row, as in a file: posting a second payout with the same id adds a second fact (a
duplicate payout, which the rules report), just as a file with the id twice has two rows. To
correct a fact, post it with ``replace=True``; ``retract`` removes every fact with the key.
Facts are numbered per table as they are posted, and a retracted fact's number is not reused:
a message that names a row ("first in row 2") names that number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mentorrules.checking.batch import GROUP_TABLE, BatchRule, Member, Unchecked
from mentorrules.checking.codegen import CANNOT_CHECK
from mentorrules.checking.evaluation import Evaluator, error_findings, row_problems
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.inputs.reading import RowTyper
from mentorrules.model import Decision, Finding, Severity, Status, status_of
from mentorrules.sessions.backends import make_correlator
from mentorrules.sessions.correlation import MAX_SESSIONS, CorrelationError, Correlator, Fact, Joined, Matched
from mentorrules.sessions.durable_worker import probe
from mentorrules.sessions.linking import Plan

if TYPE_CHECKING:
    from mentorrules.checking.policy import Policy

Ref = tuple[str, str]  # (table, fact key): the row's key, with "\x1e<n>" for the n-th repeat
_REPEAT = "\x1e"
_SEPARATOR = "\x1f"  # between a fact id's table and key: a control character no key holds


def fact_id(ref: Ref) -> str:
    """The id the correlator knows a row by: its table and fact key in one string.

    >>> ref_of(fact_id(("payouts", "P-1")))
    ('payouts', 'P-1')
    """
    return f"{ref[0]}{_SEPARATOR}{ref[1]}"


def ref_of(fact: str) -> Ref:
    """The (table, fact key) of a correlator's fact id (see :func:`fact_id`)."""
    table, key = fact.split(_SEPARATOR, 1)
    return table, key


def _shown(fact_key: str) -> str:
    """The row key of a fact key (repeats of a key are separate facts)."""
    return fact_key.split(_REPEAT, 1)[0]


_ABSENT = object()


class Journal:
    """The old values of what one post or retraction changed, to put back if it fails half-way.

    >>> rows, members = {"a": 1}, {"x"}
    >>> journal = Journal()
    >>> journal.put(rows, "a", 2); journal.put(rows, "b", 3); journal.add(members, "y")
    >>> journal.pop(rows, "a")
    2
    >>> rows, sorted(members)
    ({'b': 3}, ['x', 'y'])
    >>> journal.undo()
    >>> rows, sorted(members)
    ({'a': 1}, ['x'])
    """

    def __init__(self) -> None:
        self.entries: list[tuple[Any, Any, Any]] = []  # (container, key, old value, _ABSENT, or was in set)

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        self.entries.append((mapping, key, mapping.get(key, _ABSENT)))
        mapping[key] = value

    def pop(self, mapping: dict[Any, Any], key: Any) -> Any:
        old = mapping.pop(key, _ABSENT)
        if old is not _ABSENT:
            self.entries.append((mapping, key, old))
            return old
        return None

    def add(self, members: set[Any], item: Any) -> None:
        if item not in members:
            self.entries.append((members, item, False))
            members.add(item)

    def discard(self, members: set[Any], item: Any) -> None:
        if item in members:
            self.entries.append((members, item, True))
            members.discard(item)

    def undo(self) -> None:
        for container, key, old in reversed(self.entries):
            if isinstance(container, set):
                (container.add if old else container.discard)(key)
            elif old is _ABSENT:
                container.pop(key, None)
            else:
                container[key] = old
        self.entries.clear()


class Session:
    """Facts of one conversation with another system. Use as a context manager.

    Not shared between threads: open one session per thread (the engine is shared). At most
    512 sessions of one engine are open at once, on either backend (durable-rules needs a
    bound); opening one more raises ``CorrelationError("too many open sessions: 512 ...")``.
    A session is closed by its ``with`` block, by :meth:`close`, or when it is garbage-collected
    (its place and facts are then freed at the next ``Engine.session()``).
    """

    def __init__(self, policy: Policy, plan: Plan, correlator: Correlator, as_of: dt.date | None = None) -> None:
        self.policy = policy
        self.plan = plan
        self.correlator = correlator
        self.as_of = as_of or dt.date.today()
        self.handle = correlator.open()
        self.pid = os.getpid()
        # Not a bound method of self: the finalizer must not keep the session alive.
        self._finalizer = weakref.finalize(self, _abandon, correlator, self.handle, self.pid)
        self.rows: dict[str, dict[str, tuple[int, Mapping[str, Any], tuple[Problem, ...]]]] = {}
        self.counters: dict[str, int] = {}
        self.asserted: dict[Ref, Fact] = {}
        self.decisions: dict[Ref, Decision] = {}
        self.groups: dict[str, dict[str, tuple[Any, ...]]] = {}  # rule -> fact id -> group key
        self.grouped: dict[str, dict[tuple[Any, ...], set[str]]] = {}  # rule -> group key -> fact ids
        self.partners: dict[str, dict[str, set[str]]] = {}  # join -> left fact id -> right fact ids
        self.reverse: dict[str, dict[str, set[str]]] = {}  # join -> right fact id -> left fact ids
        self.group_records: dict[str, Decision] = {}
        # table -> row key -> row, for unique tables (people, districts, grants); {} for others
        self.index: dict[str, dict[Any, Mapping[str, Any]]] = {name: {} for name in policy.tables}
        self.closed = False
        self.journal = Journal()
        self.touched: set[Ref] = set()  # facts whose correlator state the current change altered
        self.unsynced: set[Ref] = set()  # facts the correlator may hold differently from ``asserted``
        self.members: dict[tuple[str, str, str], Member | Unchecked | None] = {}  # during one _settle round

    # -- public -------------------------------------------------------------------------------
    def post(self, table: str, row: Mapping[str, Any], *, replace: bool = False) -> list[Decision]:
        """Add a fact (or, with ``replace``, correct the fact with its key); the decisions that
        changed, the posted one first."""
        self._here()
        contract = self.policy.tables.get(table)
        if contract is None:
            raise MentorRulesError([Problem("MR300", f"unknown table {table!r}", Location(),
                                            expected=", ".join(self.policy.tables))])
        typed = RowTyper(contract, table).row(0, row)
        with self._atomic():
            table_rows = self.rows.setdefault(table, {})
            row_key = key = contract.key_of(typed.values)
            pending: set[Ref] = set()
            copies = self._copies(table, key)
            if copies and replace:
                number = table_rows[key][0]
                pending |= self._unassert((table, key))
            else:
                key = f"{key}{_REPEAT}{len(copies)}" if copies else key
                number = self.counters.get(table, 0) + 1
                self.journal.put(self.counters, table, number)
            self.journal.put(table_rows, key, (number, typed.values, typed.problems))
            pending.add((table, key))
            if contract.unique:
                pending |= self._reindex(table, row_key, typed.values)
            return self._settle(pending, first=(table, key))

    def retract(self, table: str, key: str) -> list[Decision]:
        """Remove every fact with this key; the decisions that changed (the retracted ones are
        no longer reported)."""
        self._here()
        facts = self._copies(table, key)
        if not facts:
            return []
        with self._atomic():
            pending: set[Ref] = set()
            values = self.rows[table][facts[0]][1]
            for fact in facts:
                # The retracted fact stays pending: its groups must be recomputed without it.
                pending |= self._unassert((table, fact)) | {(table, fact)}
                self.journal.pop(self.rows[table], fact)
                self.journal.pop(self.decisions, (table, fact))
            if self.policy.tables[table].unique:
                pending |= self._reindex(table, key, values)
            return self._settle(pending)

    def findings(self) -> list[Decision]:
        """The current decision on every fact, in posting order per table, then group records."""
        ordered = []
        for table in self.policy.tables:
            rows = sorted(self.rows.get(table, {}).items(), key=lambda item: item[1][0])
            ordered += [self.decisions[(table, key)] for key, _ in rows if (table, key) in self.decisions]
        return ordered + [self.group_records[label] for label in sorted(self.group_records)]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._finalizer.detach()
            if os.getpid() == self.pid:  # in a forked child the correlator is the parent's
                self.correlator.close(self.handle)

    def _here(self) -> None:
        """Refuse to change a session in a process forked after it was opened: its correlator
        (a worker's pipes, a lock another thread held) belongs to the parent."""
        if os.getpid() != self.pid:
            raise CorrelationError(f"this session was opened in process {self.pid}, before a fork; open a "
                                   "new session in this process (engine.session())", code="MR422")

    def _copies(self, table: str, key: str) -> list[str]:
        """The facts of a row key: ``key``, then its repeats ``key\x1e1``, ``key\x1e2``, ... (a
        retraction removes them all, so they are numbered without gaps)."""
        rows = self.rows.get(table, {})
        found: list[str] = []
        while (fact := f"{key}{_REPEAT}{len(found)}" if found else key) in rows:
            found.append(fact)
        return found

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """All of a change or nothing: on any failure the session is put back as it was."""
        self._resync()
        self.journal.entries.clear()
        self.touched.clear()
        try:
            yield
        except BaseException:
            self.journal.undo()
            self.unsynced |= self.touched
            # A correlator that fails again is brought in line before the next change.
            with contextlib.suppress(CorrelationError):
                self._resync()
            raise

    def _resync(self) -> None:
        """Make the correlator hold ``asserted`` again for the facts a failed change touched."""
        while self.unsynced:
            ref = min(self.unsynced)
            fact = self.asserted.get(ref)
            if fact is None:
                self.correlator.retract_fact(self.handle, fact_id(ref))
            else:
                self.correlator.assert_fact(self.handle, fact)
            self.unsynced.discard(ref)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- the unique tables (people, districts, grants) --------------------------------------------
    def _reindex(self, table: str, key: str, values: Mapping[str, Any]) -> set[Ref]:
        """Rank the facts of one key of a unique table in posting order: the first without
        problems of its own is the row related facts see, later ones are error rows, as in the
        batch path (MR313). Returns the facts whose standing changed."""
        contract = self.policy.tables[table]
        rows = self.rows[table]
        first: str | None = None
        changed: set[Ref] = set()
        for fact in self._copies(table, key):
            number, fact_values, problems = rows[fact]
            own = tuple(problem for problem in problems if problem.code != "MR313")
            if own:
                updated = own
            elif first is not None:
                updated = (Problem("MR313", f"the key {key!r} is repeated (first in row {rows[first][0]})",
                                   Location(table, row=number), hint=f"each {contract.record} must appear once"),)
            else:
                first, updated = fact, ()
            if updated != problems:
                self.journal.put(rows, fact, (number, fact_values, updated))
                changed.add((table, fact))
        marker = values.get(contract.key[0]) if len(contract.key) == 1 else \
            tuple(values.get(name) for name in contract.key)
        if first is None:
            self.journal.pop(self.index[table], marker)
        else:
            self.journal.put(self.index[table], marker, rows[first][1])
        return changed

    # -- facts and events ------------------------------------------------------------------------
    def _fact(self, table: str, key: str) -> Fact:
        """The fact for the correlator: only join keys, as text (none for an error row)."""
        _, values, problems = self.rows[table][key]
        keys = {} if problems else self.plan.keys(table, values, self.index, self.as_of)
        return Fact(fact_id((table, key)), table, keys)

    def _unassert(self, ref: Ref) -> set[Ref]:
        """Take a fact out of the correlator; the records whose links it was part of."""
        if ref not in self.asserted:
            return set()
        self.journal.pop(self.asserted, ref)
        self.touched.add(ref)
        events = self.correlator.retract_fact(self.handle, fact_id(ref))
        return self._apply(events, add=False)

    def _assert(self, ref: Ref) -> set[Ref]:
        """(Re)assert a fact whose join keys are new or changed; the records its links touch."""
        fact = self._fact(ref[0], ref[1])
        if self.asserted.get(ref) == fact:
            return set()
        touched = self._unassert(ref)
        self.journal.put(self.asserted, ref, fact)
        self.touched.add(ref)
        return touched | self._apply(self.correlator.assert_fact(self.handle, fact), add=True)

    def _apply(self, events: list[Matched | Joined], *, add: bool) -> set[Ref]:
        affected: set[Ref] = set()
        for event in events:
            if isinstance(event, Joined):
                partners = self.partners.setdefault(event.join, {}).setdefault(event.left, set())
                reverse = self.reverse.setdefault(event.join, {}).setdefault(event.right, set())
                if add:
                    self.journal.add(partners, event.right)
                    self.journal.add(reverse, event.left)
                else:
                    self.journal.discard(partners, event.right)
                    self.journal.discard(reverse, event.left)
                left_table, left_key = ref_of(event.left)
                affected.add((left_table, left_key))
            else:
                table, key = ref_of(event.fact)
                affected.add((table, key))
        return affected

    # -- recomputation ---------------------------------------------------------------------------
    def _settle(self, pending: set[Ref], first: Ref | None = None) -> list[Decision]:
        """Recompute what ``pending`` touches until nothing changes; the decisions that changed."""
        changed: dict[Ref | str, Decision] = {}
        for _ in range(16):  # each round follows one more level of only_passing dependencies
            if not pending:
                break
            # Rows and indexes hold still during a round: a row's membership is computed once.
            self.members.clear()
            queue = sorted(pending)
            seen: set[Ref] = set()
            while queue:  # re-asserting a fact can touch others whose keys depend on it
                ref = queue.pop()
                if ref in seen:
                    continue
                seen.add(ref)
                if ref[1] in self.rows.get(ref[0], {}):
                    for other in self._assert(ref) - seen:
                        queue.append(other)
            pending |= seen
            touched = self._regroup(pending)
            decided = []
            for ref in sorted(pending):
                if ref[1] not in self.rows.get(ref[0], {}):
                    continue
                decision = self._decide(ref)
                if self.decisions.get(ref) != decision or ref == first:
                    self.journal.put(self.decisions, ref, decision)
                    changed[ref] = decision
                    decided.append(ref)
            for label, decision in self._group_records(touched):
                changed[label] = decision
            pending = self._dependents(decided)
        self.members.clear()
        ordered = [changed.pop(first)] if first is not None and first in changed else []
        return ordered + list(changed.values())

    def _dependents(self, refs: list[Ref]) -> set[Ref]:
        """Records whose lookups count only passing rows, and read one of ``refs``."""
        found: set[Ref] = set()
        for name, link in self.plan.links.items():
            if link.kind != "lookup" or not self.plan.batch[link.name].lookups[link.lookup].only_passing:
                continue
            reverse = self.reverse.get(name, {})
            for table, key in refs:
                for left in reverse.get(fact_id((table, key)), ()):
                    left_table, left_key = ref_of(left)
                    found.add((left_table, left_key))
        return found

    def _regroup(self, pending: set[Ref]) -> dict[str, set[tuple[Any, ...]]]:
        """Move pending facts between groups; every member of a touched group becomes pending
        (for rules with findings on rows: their findings name the whole group)."""
        touched: dict[str, set[tuple[Any, ...]]] = {}
        for rule in self.plan.batch.values():
            if not rule.batch.group_by:
                continue
            members = self.groups.setdefault(rule.rule.id, {})
            grouped = self.grouped.setdefault(rule.rule.id, {})
            for table, key in list(pending):
                if table != rule.table.name:
                    continue
                fact = fact_id((table, key))
                old = self.journal.pop(members, fact)
                if old is not None:
                    self.journal.discard(grouped[old], fact)
                    if not grouped[old]:
                        self.journal.pop(grouped, old)
                    touched.setdefault(rule.rule.id, set()).add(old)
                if key not in self.rows.get(table, {}):
                    continue
                member = self._member(rule, table, key)
                if isinstance(member, Member):
                    try:
                        group = rule.group_key(member)
                    except CANNOT_CHECK:  # no group: _batch_finding says it cannot check
                        continue
                    self.journal.put(members, fact, group)
                    if group not in grouped:
                        self.journal.put(grouped, group, set())
                    self.journal.add(grouped[group], fact)
                    touched.setdefault(rule.rule.id, set()).add(group)
            if rule.by_group:  # its finding goes on the group record, not on the members' decisions
                continue
            for group in touched.get(rule.rule.id, ()):
                for fact in grouped.get(group, ()):
                    table, key = ref_of(fact)
                    pending.add((table, key))
        return touched

    def _member(self, rule: BatchRule, table: str, key: str) -> Member | Unchecked | None:
        cached = (rule.rule.id, table, key)
        if cached in self.members:
            return self.members[cached]
        number, values, problems = self.rows[table][key]
        member = None
        if not problems:
            compiled = self.policy.evaluator.tables[table]
            related = compiled.relate(values, self.index)
            state = Evaluator.state_of(compiled, values, related)
            day = values.get(rule.table.date_field) if rule.table.date_field else None
            member = rule.member(table, number, _shown(key), values, related,
                                 day if isinstance(day, dt.date) else self.as_of, state)
        self.members[cached] = member
        return member

    def _decide(self, ref: Ref) -> Decision:
        table, key = ref
        number, values, problems = self.rows[table][key]
        if problems:
            return Decision(table, number, _shown(key), Status.UNREADABLE, error_findings(problems),
                            row_problems(problems, values))
        contract = self.policy.tables[table]
        day = values.get(contract.date_field) if contract.date_field else None
        day = day if isinstance(day, dt.date) else self.as_of
        findings = list(self.policy.evaluator.findings(table, values, day, self.index))
        for rule in self.policy.batch_rules:
            if rule.table.name != table:
                continue
            if rule.by_group:  # a row such a rule cannot check is reported on the row, as in batch
                member = self._member(rule, table, key)
                if isinstance(member, Unchecked):
                    findings.append(member.finding)
                continue
            found = self._batch_finding(rule, table, key)
            if found is not None:
                findings.append(found)
        return Decision(table, number, _shown(key), status_of(findings), tuple(findings))

    def _batch_finding(self, rule: BatchRule, table: str, key: str) -> Finding | None:
        member = self._member(rule, table, key)
        if member is None:
            return None
        if isinstance(member, Unchecked):
            return member.finding
        names: dict[str, Any] = {}
        group_members = [member]
        if rule.batch.group_by:
            group = self.groups.get(rule.rule.id, {}).get(fact_id((table, key)))
            if group is None:
                return rule.cannot(member.values, member.related)
            found_members = self._group_members(rule, group)
            group_members = [member for _, member in found_members]
            facts = {other.row: fact for fact, other in found_members}
            names.update(zip((name for name, _ in rule.batch.group_by), group, strict=True))
            names.update(rule.aggregates(group_members))
        else:
            facts = {member.row: fact_id((table, key))}

        def names_of(other: Member) -> dict[str, Any]:
            # Each member's own lookups (a group's failing rows are named in its finding); they
            # run inside check_rows, which turns a linked row it cannot test into a "cannot
            # check" finding, as on the batch path. Only this member's finding is kept.
            return {**names, **{lookup.name: rule.lookup_value(number, other, self._candidates(
                rule, number, facts[other.row])) for number, lookup in enumerate(rule.lookups)}}

        return rule.check_rows(group_members, names_of).get(member.row)

    def _group_members(self, rule: BatchRule, group: tuple[Any, ...]) -> list[tuple[str, Member]]:
        """(fact id, member) of a group, in posting order."""
        found = []
        for fact in self.grouped.get(rule.rule.id, {}).get(group, ()):
            table, row_key = ref_of(fact)
            member = self._member(rule, table, row_key)
            if isinstance(member, Member):
                found.append((fact, member))
        found.sort(key=lambda pair: pair[1].row)
        return found

    def _candidates(self, rule: BatchRule, number: int, fact: str) -> list[Mapping[str, Any]]:
        """The rows linked to a fact by a lookup's joins, in posting order (only_passing applied)."""
        lookup = rule.lookups[number]
        linked: set[str] = set()
        for name in self.plan.alternatives[(rule.rule.id, number)]:
            linked |= self.partners.get(name, {}).get(fact, set())
        candidates = []
        for other in linked:
            other_table, other_key = ref_of(other)
            row = self.rows.get(other_table, {}).get(other_key)
            if row is None or row[2]:
                continue
            if lookup.only_passing and not self._passes((other_table, other_key), lookup.only_passing):
                continue
            candidates.append(row)
        return [values for _, values, _ in sorted(candidates, key=lambda row: row[0])]

    def _passes(self, ref: Ref, rule_ids: tuple[str, ...]) -> bool:
        decision = self.decisions.get(ref)
        return decision is None or not any(
            finding.rule in rule_ids and finding.severity is Severity.ERROR for finding in decision.findings)

    def _group_records(self, touched: Mapping[str, set[tuple[Any, ...]]]) -> list[tuple[str, Decision]]:
        changed = []
        for rule_id, groups in touched.items():
            rule = self.plan.batch[rule_id]
            if not rule.by_group:
                continue
            for group in groups:
                found_members = self._group_members(rule, group)
                members = [member for _, member in found_members]
                names = dict(zip((name for name, _ in rule.batch.group_by), group, strict=True))
                label = rule.group_label(group)
                if members:
                    names.update(rule.aggregates(members))
                    # A group's lookups are those of its first row, as on the batch path; a
                    # linked row they cannot test leaves them missing (the group cannot be checked).
                    try:
                        for number, lookup in enumerate(rule.lookups):
                            candidates = self._candidates(rule, number, found_members[0][0])
                            names[lookup.name] = rule.lookup_value(number, members[0], candidates)
                    except CANNOT_CHECK:
                        names.update({lookup.name: None for lookup in rule.lookups})
                found = rule.check_group(group, members, names) if members else None
                if found is None:
                    if self.journal.pop(self.group_records, label) is not None:
                        changed.append((label, Decision(GROUP_TABLE, 0, label, Status.PASS, ())))
                    continue
                decision = Decision(GROUP_TABLE, 0, found.key, status_of([found.finding]), (found.finding,))
                if self.group_records.get(found.key) != decision:
                    self.journal.put(self.group_records, found.key, decision)
                    changed.append((found.key, decision))
        return changed


def _abandon(correlator: Correlator, handle: int, pid: int) -> None:
    if os.getpid() == pid:
        correlator.abandon(handle)


def backend_status() -> tuple[str, str]:
    """The session backend ``"auto"`` gives here, and why (``mentorrules packs`` prints both).

    durable-rules is never imported in this process: a worker's command is probed (about
    0.1 s when durable-rules is installed, nothing when it is not).
    """
    problem = probe()
    if problem is None:
        return "durable-rules", "in a supervised worker process"
    return "python", f"the engine's own correlator; {problem}"


def available_backend() -> str:
    """``durable-rules`` when its worker can run here (CPython < 3.13 with the package), else
    ``python``."""
    return backend_status()[0]


class SessionPool:
    """An engine's correlator and plan, made on first use and shared by its sessions."""

    def __init__(self, policy: Policy, backend: str = "python", max_sessions: int = MAX_SESSIONS) -> None:
        self.policy = policy
        self.backend = backend
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._plan: Plan | None = None
        self._correlator: Correlator | None = None

    def _forked(self) -> None:
        """In a child forked after sessions started: a lock of its own (another thread of the
        parent may have held this one) and a correlator of its own, made on first use."""
        if self._pid != os.getpid():
            self._lock = threading.Lock()
            self._correlator = None
            self._pid = os.getpid()

    def open(self, as_of: dt.date | None = None) -> Session:
        self._forked()
        with self._lock:
            if self._plan is None or self._correlator is None:
                self._plan = Plan(self.policy)
                self._correlator = make_correlator(self._plan.patterns, self._plan.joins, backend=self.backend,
                                                   max_sessions=self.max_sessions)
            return Session(self.policy, self._plan, self._correlator, as_of)

    def shutdown(self) -> None:
        self._forked()
        with self._lock:
            if self._correlator is not None:
                self._correlator.shutdown()
                self._correlator = None
