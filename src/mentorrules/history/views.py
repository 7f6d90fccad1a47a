"""Runs and comparisons as text for a terminal, JSON for systems and HTML to share.

Every value from an input (keys, messages, file names) is escaped for where it goes: control
characters are shown as ``\\x1b`` in text, and HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any, TextIO

from mentorrules.history.comparing import Change, Comparison, cents, dollars, signed
from mentorrules.history.store import RunInfo

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _plain(text: object) -> str:
    """Text safe for a terminal: a control character (an escape sequence in a payout id) is shown,
    not run, and a lone surrogate is shown as its code, not a crash of the output stream."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group(0)):04x}" if ord(match.group(0)) > 0xff
                        else f"\\x{ord(match.group(0)):02x}", str(text))


def _inputs(run: RunInfo, limit: int = 3) -> str:
    names = list(dict.fromkeys(item.name for item in run.inputs))
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit}" if len(names) > limit else "")


def _counts(run: RunInfo) -> tuple[int, int, int, int]:
    summary = run.summary
    return (int(summary.get("rows", 0)), int(summary.get("pass", 0)), int(summary.get("fail", 0)),
            int(summary.get("unreadable", summary.get("error", 0))))


def write_runs(runs: Sequence[RunInfo], stream: TextIO, kind: str = "table") -> None:
    """The list of ``mentorrules history``: id, when, inputs, rows, pass/fail and money held."""
    if kind == "json":
        json.dump({"runs": [run.to_dict() for run in runs]}, stream, indent=2, ensure_ascii=False, default=str)
        stream.write("\n")
        return
    if not runs:
        stream.write("no runs recorded yet: mentorrules validate DATA --record\n")
        return
    lines = [("run", "when", "rows", "pass", "fail", "unreadable", "held", "inputs")]
    for run in runs:
        rows, passed, failed, errors = _counts(run)
        lines.append((str(run.id), run.when, str(rows), str(passed), str(failed), str(errors),
                      run.held or "-", _plain(_inputs(run))))
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]) - 1)]
    for line in lines:
        cells = [cell.ljust(width) if column in (1,) else cell.rjust(width)
                 for column, (cell, width) in enumerate(zip(line, widths, strict=False))]
        stream.write("  ".join([*cells, line[-1]]).rstrip() + "\n")


_KINDS = (("new", "New failures"), ("fixed", "Fixed"), ("still", "Still failing"),
          ("gone", "Failed before, no longer in the input"))


def _lists(comparison: Comparison) -> list[tuple[str, str, list[Change]]]:
    found = comparison.changes
    return [(name, title, getattr(found, name)) for name, title in _KINDS]


def write_text(comparison: Comparison, stream: TextIO) -> None:
    """The comparison for a terminal: the two runs, the counts and money, then each changed row."""
    before, after, found = comparison.before, comparison.after, comparison.changes
    for label, run in (("before", before), ("after ", after)):
        rows, passed, failed, errors = _counts(run)
        stream.write(f"{label} run {run.id}  {run.when}  {rows} rows: {passed} pass, {failed} fail, {errors} unreadable"
                     f"  ({_plain(_inputs(run))})\n")
    if before.digest != after.digest:
        stream.write("note: the rules or parameters changed between the runs "
                     f"({before.digest[:19]} -> {after.digest[:19]})\n")
    money = found.money()
    stream.write(f"\n{len(found.new)} new failures, {len(found.fixed)} fixed, {len(found.still)} still failing"
                 + (f", {len(found.gone)} no longer in the input" if found.gone else "") + "\n")
    stream.write(f"held: {dollars(money['held_before'])} -> {dollars(money['held_after'])} "
                 f"({signed(money['held_change'])}); newly held {dollars(money['new'])}, "
                 f"released by fixes {dollars(money['fixed'])}, still held {dollars(money['still'])}\n")
    if found.unpriced:
        stream.write(f"({found.unpriced} held payouts have no readable amount and are not in these sums)\n")
    for _, title, changes in _lists(comparison):
        if not changes:
            continue
        stream.write(f"\n{title} ({len(changes)})\n")
        for change in changes:
            record = change.shown
            amount = "" if change.amount is None else dollars(change.amount)
            stream.write(f"  {_plain(change.table)} row {record.row}  {_plain(change.key)}  {amount}\n")
            was = change.before.rules if change.before is not None else ()
            for rule, message in zip(record.rules, record.messages, strict=False):
                mark = "" if change.after is None or rule in was or change.before is None else " (new)"
                stream.write(f"      {_plain(rule)}  {_plain(message)}{mark}\n")


def write_json(comparison: Comparison, stream: TextIO) -> None:
    json.dump(comparison.to_dict(), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f2f2f2}
.money{text-align:right;font-variant-numeric:tabular-nums}.lead td{font-size:1.15em}
h2{margin-top:1.5em}ul{margin:0;padding-left:1.2em}"""


def write_html(comparison: Comparison, stream: TextIO) -> None:
    """One standalone page: the runs, the money moved, then a table per kind of change."""
    before, after, found = comparison.before, comparison.after, comparison.changes
    money = found.money()
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>mentorrules: run {after.id} compared with run {before.id}</title>",
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Run {after.id} compared with run {before.id}</h1>",
           '<table class="lead"><tr><th>held before</th><th>held now</th><th>change</th><th>newly held</th>'
           "<th>released by fixes</th><th>still held</th></tr><tr>"]
    out += [f'<td class="money">{_e(text)}</td>' for text in (
        dollars(money["held_before"]), dollars(money["held_after"]), signed(money["held_change"]),
        dollars(money["new"]), dollars(money["fixed"]), dollars(money["still"]))]
    out.append("</tr></table>")
    out.append(f"<p>{len(found.new)} new failures, {len(found.fixed)} fixed, {len(found.still)} still failing"
               + (f", {len(found.gone)} no longer in the input" if found.gone else "") + ".</p>")
    if found.unpriced:
        out.append(f"<p>{found.unpriced} held payouts have no readable amount and are not in these sums.</p>")
    out.append("<table><tr><th></th><th>run</th><th>recorded</th><th>rows</th><th>pass</th><th>fail</th>"
               "<th>error</th><th>inputs</th><th>rules digest</th></tr>")
    for label, run in (("before", before), ("after", after)):
        rows, passed, failed, errors = _counts(run)
        inputs = "<br>".join(_e(_plain(f"{item.table}: {item.source}")) for item in run.inputs)
        out.append(f"<tr><th>{label}</th><td>{run.id}</td><td>{_e(run.when)}</td><td>{rows}</td><td>{passed}</td>"
                   f"<td>{failed}</td><td>{errors}</td><td>{inputs}</td><td><code>{_e(run.digest[:19])}</code></td></tr>")
    out.append("</table>")
    for _, title, changes in _lists(comparison):
        out.append(f"<h2>{_e(title)} ({len(changes)})</h2>")
        if not changes:
            continue
        out.append("<table><tr><th>table</th><th>row</th><th>key</th><th>amount</th><th>findings now</th>"
                   "<th>findings before</th></tr>")
        for change in changes:
            record = change.shown
            out.append(f"<tr><td>{_e(change.table)}</td><td>{record.row}</td><td>{_e(_plain(change.key))}</td>"
                       f'<td class="money">{_e(cents(change.amount)) if change.amount is not None else ""}</td>'
                       f"<td>{_findings(change.after)}</td><td>{_findings(change.before)}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    stream.write("\n".join(out) + "\n")


def _findings(record: Any) -> str:
    if record is None:
        return "<em>not in the input</em>"
    if not record.rules:
        return _e(record.status)
    items = "".join(f"<li><b>{_e(rule)}</b> {_e(_plain(message))}</li>"
                    for rule, message in zip(record.rules, record.messages, strict=False))
    return f"<ul>{items}</ul>"
