"""Two reports on the same data -> the rows whose status or findings change, with counts per rule.

What an administrator needs before publishing a new cap: ``mentorrules diff DATA --before REF
--after REF`` runs both versions of the policy on the same data and lists what would change:
a row that gains or loses a finding, and a row whose finding stays but says something else
(a payout still over a raised cap, now "over the cap 2400.00").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO

from mentorrules.model import Decision, Report


@dataclass(frozen=True)
class Change:
    """A record whose outcome differs between the two versions."""

    table: str
    key: str
    row: int
    before: str
    after: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    reworded: tuple[tuple[str, str, str], ...] = ()  # (rule, message before, message after)


def changes(before: Report, after: Report) -> list[Change]:
    """Records (input rows and group records) whose status, rule findings or messages change."""
    def index(report: Report) -> dict[tuple[str, int, str], Decision]:
        return {(decision.table, decision.row if decision.table != "group" else 0, decision.key): decision
                for decision in report.records}

    old, new = index(before), index(after)
    found = []
    for marker in sorted(set(old) | set(new), key=lambda m: (m[0] == "group", m[0], m[1], m[2])):
        first, second = old.get(marker), new.get(marker)
        old_rules = Counter(f.rule for f in first.findings) if first else Counter()
        new_rules = Counter(f.rule for f in second.findings) if second else Counter()
        old_status = first.status.value if first else "absent"
        new_status = second.status.value if second else "absent"
        reworded = _reworded(first, second)
        if old_rules == new_rules and old_status == new_status and not reworded:
            continue
        found.append(Change(marker[0], marker[2], marker[1], old_status, new_status,
                            tuple(sorted((new_rules - old_rules).elements())),
                            tuple(sorted((old_rules - new_rules).elements())), reworded))
    return found


def _reworded(first: Decision | None, second: Decision | None) -> tuple[tuple[str, str, str], ...]:
    """Findings of one rule, on the record before and after, whose messages differ."""
    if first is None or second is None:
        return ()
    found = []
    for rule in sorted({f.rule for f in first.findings} & {f.rule for f in second.findings}):
        old = Counter(f.message for f in first.findings if f.rule == rule)
        new = Counter(f.message for f in second.findings if f.rule == rule)
        pairs = zip(sorted((old - new).elements()), sorted((new - old).elements()), strict=False)
        found += [(rule, was, now) for was, now in pairs]
    return tuple(found)


def per_rule(found: list[Change]) -> dict[str, dict[str, int]]:
    """Rule -> findings gained, lost, and reworded (same rule and row, another message)."""
    counts: dict[str, dict[str, int]] = {}

    def count(rule: str, kind: str) -> None:
        counts.setdefault(rule, {"added": 0, "removed": 0, "reworded": 0})[kind] += 1

    for change in found:
        for rule in change.added:
            count(rule, "added")
        for rule in change.removed:
            count(rule, "removed")
        for rule, _, _ in change.reworded:
            count(rule, "reworded")
    return dict(sorted(counts.items()))


def write_text(found: list[Change], before: Report, after: Report, stream: TextIO,
               labels: tuple[str, str] = ("", "")) -> None:
    """The changes as text; ``labels`` say what each side's rules are (``installed packs``)."""
    for side, report, label in (("before", before, labels[0]), ("after", after, labels[1])):
        stream.write(f"{side + ':':<7} {report.digest[:19]}  {label}".rstrip() + "\n")
    # A change to a rule that did not run shows no change: say which rules could not run.
    skipped = {**before.not_checked, **after.not_checked}
    if skipped:
        tables = sorted({table for needed in skipped.values() for table in needed})
        stream.write(f"not checked (tables not given: {', '.join(tables)}): {', '.join(sorted(skipped))}\n")
    if not found:
        stream.write("no row changes\n")
        return
    for change in found:
        parts = ([f"+{rule}" for rule in change.added] + [f"-{rule}" for rule in change.removed]
                 + [f"~{rule}" for rule in dict.fromkeys(rule for rule, _, _ in change.reworded)])
        where = f"{change.table} row {change.row}" if change.table != "group" else "group"
        stream.write(f"{where:<18} {change.key:<24} {change.before:>5} -> {change.after:<5} {' '.join(parts)}\n")
        for rule, was, now in change.reworded:
            stream.write(f"    ~{rule}: {was}\n    {' ' * len(rule)}  -> {now}\n")
    stream.write("\nPer rule (+ gained, - lost, ~ reworded)\n")
    counts = per_rule(found)
    width = max(map(len, counts), default=0)
    for rule, count in counts.items():
        stream.write(f"  {rule:<{width}}  +{count['added']:<6} -{count['removed']:<6} ~{count['reworded']}\n")
    statuses = Counter((change.before, change.after) for change in found)
    summary = ", ".join(f"{count} {old} -> {new}" for (old, new), count in sorted(statuses.items()))
    stream.write(f"\n{len(found)} records change: {summary}\n")


def to_dict(found: list[Change], before: Report, after: Report,
            labels: tuple[str, str] = ("", "")) -> dict[str, Any]:
    def side(report: Report, label: str) -> dict[str, Any]:
        return {"rules": label, "digest": report.digest, "summary": report.summary,
                **({"not_checked": report.head()["not_checked"]} if report.not_checked else {})}

    return {"before": side(before, labels[0]), "after": side(after, labels[1]),
            "changes": [{"table": c.table, "row": c.row, "key": c.key, "before": c.before, "after": c.after,
                         "added": list(c.added), "removed": list(c.removed),
                         "reworded": [{"rule": rule, "before": was, "after": now} for rule, was, now in c.reworded]}
                        for c in found],
            "rules": per_rule(found)}
