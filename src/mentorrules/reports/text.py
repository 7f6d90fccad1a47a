"""Report -> text for a terminal: each row with findings, then counts by rule, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from mentorrules.model import Report, Status
from mentorrules.reports import tally
from mentorrules.reports.terminal import printable as _p

_LABEL = {Status.FAIL: "FAIL ", Status.ERROR: "ERROR", Status.PASS: "WARN "}


def write(report: Report, stream: TextIO, titles: Mapping[str, str] | None = None) -> None:
    titles = titles or {}
    # Every text from the input or the packs goes through _p: no control character reaches a terminal.
    packs = _p(", ".join(f"{name} {version}" for name, version in report.packs))
    stream.write(f"mentorrules {report.version} | packs: {packs} | {report.digest[:19]}\n")
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
    width = max((len(finding.rule) for decision in report.records for finding in decision.findings), default=0)
    by_rule: Counter[tuple[str, str]] = Counter()
    for decision in report.records:
        if not decision.findings:
            continue
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
    summary = report.summary
    findings = summary["findings"]
    rows = "1 row" if summary["rows"] == 1 else f"{summary['rows']} rows"
    stream.write(f"\n{rows}: {summary['pass']} pass, {summary['fail']} fail, "
                 f"{summary['error']} error | findings: {findings['error']} error, "
                 f"{findings['warning']} warning, {findings['info']} info\n")
    skipped = tally.not_checked(report)
    if skipped:
        stream.write("\nNot checked: these rules read a table that was not given\n")
        width = max(len(tables) for tables, _ in skipped)
        for tables, rules in skipped:
            stream.write(f"  {tables:<{width}}  {', '.join(rules)}\n")
