"""Report -> text for a terminal: each row with findings, then counts by rule, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from mentorrules.model import Report, Status
from mentorrules.reports import tally
from mentorrules.reports.terminal import printable as _p

_LABEL = {Status.FAIL: "FAIL ", Status.UNREADABLE: "UNREADABLE", Status.PASS: "WARN "}


def write(report: Report, stream: TextIO, titles: Mapping[str, str] | None = None) -> None:
    titles = titles or {}
    headline = tally.incomplete(report)
    if headline:  # first, so that a partial check never reads as a pass
        stream.write(f"{_p(headline)}\n")
    # Every text from the input or the packs goes through _p: no control character reaches a terminal.
    packs = _p(", ".join(f"{name} {version}" for name, version in report.packs))
    stream.write(f"mentorrules {report.version} | packs: {packs} | {report.digest[:19]}\n")
    period = report.summary.get("period")
    if period:
        stream.write(f"  period: {period['text']} ({period['start']} to {period['end']}); "
                     "payouts before it are history: read, not judged\n")
    for table, source in report.sources.items():
        stream.write(f"  {_p(table)}: {_p(source)}\n")
    for path, why in report.ignored.items():
        stream.write(f"  ignored: {_p(path)}: {_p(why)}\n")
    stream.write("\n")
    for note in report.notes:  # cell problems per column, before the rows that show them
        stream.write(f"{_p(note)}\n")
    if report.notes:
        stream.write("\n")
    # One column width for every rule id of the report, so that severities and messages align
    # however long a pack's ids are (STIPEND-005-BAND).
    # The rows with findings, read once (a large table's passing rows are never made).
    listed = [decision for decision in report.records.flagged() if decision.findings]
    width = max((len(finding.rule) for decision in listed for finding in decision.findings), default=0)
    by_rule: Counter[tuple[str, str]] = Counter()
    for decision in listed:
        line = "" if decision.line is None else f" (line {decision.line})"  # the spreadsheet's row
        stream.write(f"{_LABEL[decision.status]} {_p(decision.table)} row {decision.row}{line}  {_p(decision.key)}\n")
        for finding in decision.findings:
            by_rule[(finding.rule, finding.severity.value)] += 1
            stream.write(f"    {_p(finding.rule):<{width}}  {finding.severity.value:<8} {_p(finding.message)}\n")
    if by_rule:
        stream.write("\nFindings by rule\n")
        for (rule, severity), count in sorted(by_rule.items()):
            title = titles.get(rule, "row could not be read" if rule.startswith("MR") else "")
            stream.write(f"  {_p(rule):<{width}}  {severity:<8} {count:>6}  {_p(title)}\n")
    write_money(report, stream)
    summary = report.summary
    findings = summary["findings"]
    rows = "1 row" if summary["rows"] == 1 else f"{summary['rows']} rows"
    passed = f"{summary['pass']} pass" + (" the rules that ran (not a clean result)" if headline else "")
    history = f", {summary['history']} history (not judged)" if "history" in summary else ""
    stream.write(f"\n{rows}: {passed}, {summary['fail']} fail, "
                 f"{summary['unreadable']} unreadable{history} | findings: {findings['error']} error, "
                 f"{findings['warning']} warning, {findings['info']} info\n")
    skipped = tally.not_checked(report)
    if skipped:
        stream.write("\nNot checked: these rules read a table that was not given\n")
        width = max(len(rule) for _, rules in skipped for rule in rules)
        for tables, rules in skipped:
            stream.write(f"  missing {tables}:\n")
            for rule in rules:
                stream.write(f"    {_p(rule):<{width}}  {_p(titles.get(rule, ''))}\n")
    values = tally.illustrative(report)
    if values:
        stream.write(f"\n{tally.ILLUSTRATIVE_HEADING}\n")
        for line in values:
            stream.write(f"  {_p(line)}\n")
    if headline:
        stream.write(f"\n{_p(headline)}\n")


def write_money(report: Report, stream: TextIO) -> None:
    """The money of the run (``summary.money``): totals, then held by rule, district, program,
    grant and school year, then the shortfalls and excesses of group findings."""
    lines = tally.money(report)
    if not lines:
        return
    stream.write("\nMoney (USD)\n")
    width = max(len(line.label) for line in lines)
    for line in lines:
        stream.write(f"  {line.label:<{width}}  {line.amount:>14}  {line.rows:>7} rows\n")
    for label, split in tally.held_by(report):
        if not split:
            continue
        stream.write(f"  held by {label}:\n")
        key_width = max(len(key) for key, _ in split)
        for key, amount in split:
            stream.write(f"    {_p(key):<{key_width}}  {amount:>14}\n")
    gaps = tally.gaps(report)
    if gaps:
        stream.write("  group findings:\n")
        for gap in gaps:
            kind = "shortfall" if "shortfall" in gap else "excess"
            where = f"{_p(gap['rule'])}  {_p(gap['key'])}  district {_p(gap['district'])}"
            stream.write(f"    {where}  {kind} {gap[kind]}\n")
