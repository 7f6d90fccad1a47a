"""Report (+ the input rows) -> one self-contained HTML page a finance officer can mail.

The page has a header (engine version, packs, digest), a summary (rows by status, findings by
severity, rule, district and program), and a table of the rows that have findings, with each
finding's rule, message and source. Select boxes filter that table by rule, severity, district
and program.

Safety, since the page shows whatever the input files held:

- every piece of input text goes through :func:`html.escape` with ``quote=True``;
- a source URL becomes a link only when it starts with ``http://`` or ``https://``;
- the data the script needs is JSON inside ``<script type="application/json">`` with ``<``,
  ``>`` and ``&`` written as ``\\u003c`` etc., so no cell can close the element or reach code;
- a Content-Security-Policy allows no external load at all, and only the page's own style
  and script, by their sha256 hashes.

Nothing is fetched when the page opens, so it reads the same offline and in a mail attachment.
District and program come from ``input_rows`` (``{table: rows}`` in input order, so the
decision on row ``n`` of a table belongs to ``rows[n - 1]``); without them those columns are
empty.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from mentorrules.model import Decision, Finding, Report
from mentorrules.reports import tally
from mentorrules.reports.tally import NOT_GIVEN, InputRows, cell_of, not_given_last

__all__ = ["NOT_GIVEN", "render", "write"]

SEVERITIES = ("error", "warning", "info")

# No `system-ui`/`ui-monospace`: Chromium on Linux took 30 s to lay out a 100 KB cell with them.
_STYLE = """
:root{--ink:#1d2430;--muted:#5b6472;--line:#d9dee5;--bg:#f6f7f9;--error:#b3261e;--errorbg:#fdecea;
--warning:#8a5a00;--warningbg:#fff4d6;--info:#1f5f99;--infobg:#e7f0fa;--pass:#1e6b34;--passbg:#e6f4ea}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);
background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:16px 24px}
header h1{margin:0 0 6px;font-size:20px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0;color:var(--muted)}
header dt{font-weight:600}
header dd{margin:0;overflow-wrap:anywhere}
main{padding:16px 24px;max-width:1400px}
h2{font-size:16px;margin:20px 0 8px}
code,.mono{font-family:SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}
.card span{color:var(--muted)}
.card.fail b,.card.error b{color:var(--error)}
.card.pass b{color:var(--pass)}
.breakdown{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin-top:12px}
.breakdown section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;
max-width:100%;overflow-x:auto}
.breakdown h3{font-size:13px;margin:0 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;background:#fff}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:#eef1f5;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.clip{max-height:7.5em;overflow:auto;overflow-wrap:anywhere;white-space:pre-wrap}
.key{min-width:6em;max-width:16em}
.place{min-width:8em;max-width:14em}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end;background:#fff;border:1px solid var(--line);
border-radius:6px;padding:10px 12px;margin-bottom:10px}
.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:2px}
.filters select{font:inherit;max-width:22em;padding:3px}
.filters button{font:inherit;padding:4px 10px}
#shown{color:var(--muted);margin-left:auto}
#rows{width:100%}
#rows td.findings{min-width:28em}
ul.findings{list-style:none;margin:0;padding:0}
ul.findings li{padding:4px 0;border-top:1px dashed var(--line)}
ul.findings li:first-child{border-top:0;padding-top:0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.badge.error,.badge.fail{background:var(--errorbg);color:var(--error)}
.badge.warning{background:var(--warningbg);color:var(--warning)}
.badge.info{background:var(--infobg);color:var(--info)}
.badge.pass{background:var(--passbg);color:var(--pass)}
.rule{font-weight:600}
.title{color:var(--muted)}
.detail{color:var(--muted);font-size:12.5px}
.detail a{color:var(--info)}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:8px 24px 24px}
.incomplete{background:var(--errorbg);color:var(--error);border:2px solid var(--error);border-radius:6px;
padding:10px 14px;margin:0 0 12px;font-weight:600}
.incomplete ul{font-weight:400;margin:6px 0 0;padding-left:20px;color:var(--ink)}
.money .card b{font-variant-numeric:tabular-nums}
.card.held b{color:var(--error)}
.card.payable b{color:var(--pass)}
th.sortable{cursor:pointer;user-select:none}
th.sortable[data-dir=asc]::after{content:" \25B2"}
th.sortable[data-dir=desc]::after{content:" \25BC"}
.filters input{font:inherit;padding:3px;min-width:14em}
#active{color:var(--muted);margin:4px 0 8px}
.signoff{display:grid;grid-template-columns:repeat(2,minmax(14em,1fr));gap:24px;margin:28px 0 8px;max-width:900px}
.signoff div{border-top:1px solid var(--ink);padding-top:4px;color:var(--muted)}
@media print{.filters{display:none}th{position:static}.clip{max-height:none;overflow:visible}
th.sortable::after{content:""}}
"""

# Reads its data from the JSON block (never from text pasted into code) and only toggles
# `hidden`; option values are indexes into the JSON lists, so no input text is compared as HTML.
_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mr-data").textContent);
  var names = ["rule", "severity", "district", "program"];
  var selects = {};
  names.forEach(function (name) { selects[name] = document.getElementById("filter-" + name); });
  var search = document.getElementById("filter-search");
  var body = document.querySelector("#rows tbody");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#rows tbody tr.decision"));
  var shown = document.getElementById("shown");
  var active = document.getElementById("active");
  function chosen(name) {
    var value = selects[name].value;
    return value === "" ? null : Number(value);
  }
  function apply() {
    var rule = chosen("rule"), severity = chosen("severity");
    var district = chosen("district"), program = chosen("program");
    var query = search.value.trim().toLowerCase();
    var count = 0;
    data.rows.forEach(function (row, i) {
      var tr = rows[i];
      var placed = (district === null || row.district === district) &&
                   (program === null || row.program === program) &&
                   (query === "" || row.ids.indexOf(query) !== -1);
      var items = tr.querySelectorAll("li.finding");
      var any = false;
      row.findings.forEach(function (finding, j) {
        var match = placed && (rule === null || finding[0] === rule) &&
                    (severity === null || finding[1] === severity);
        items[j].hidden = !match;
        any = any || match;
      });
      tr.hidden = !any;
      if (any) { count += 1; }
    });
    shown.textContent = "showing " + count + " of " + data.rows.length + " rows with findings";
    var filters = [];
    names.forEach(function (name) {
      var select = selects[name];
      if (select.value !== "") { filters.push(name + " = " + select.options[select.selectedIndex].text); }
    });
    if (query !== "") { filters.push("payout or payee id contains \u201c" + search.value.trim() + "\u201d"); }
    active.textContent = filters.length ? "Filters: " + filters.join("; ") + " \u2014 " + shown.textContent : "";
    active.hidden = filters.length === 0;
  }
  names.forEach(function (name) { selects[name].addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.getElementById("filter-reset").addEventListener("click", function () {
    names.forEach(function (name) { selects[name].value = ""; });
    search.value = "";
    apply();
  });
  // Sortable columns: rows keep their index into data.rows, only their order changes.
  rows.forEach(function (tr, i) { tr.setAttribute("data-i", String(i)); });
  var heads = Array.prototype.slice.call(document.querySelectorAll("#rows thead th.sortable"));
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var column = Number(th.getAttribute("data-column"));
      var numeric = th.getAttribute("data-kind") === "num";
      var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
      heads.forEach(function (other) { other.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", dir);
      var sorted = rows.slice().sort(function (a, b) {
        var x = a.children[column].textContent.trim(), y = b.children[column].textContent.trim();
        var order;
        if (numeric) {
          var nx = parseFloat(x), ny = parseFloat(y);
          order = (isNaN(nx) ? -Infinity : nx) - (isNaN(ny) ? -Infinity : ny);
        } else {
          order = x.localeCompare(y);
        }
        if (order === 0) { order = Number(a.getAttribute("data-i")) - Number(b.getAttribute("data-i")); }
        return dir === "asc" ? order : -order;
      });
      sorted.forEach(function (tr) { body.appendChild(tr); });
    });
  });
  apply();
  document.body.setAttribute("data-ready", "1");
})();
"""


def write(report: Report, stream: TextIO, titles: Mapping[str, str] | None = None,
          input_rows: InputRows | None = None, run: Mapping[str, str] | None = None) -> None:
    """Write the whole page to ``stream``. ``run`` adds lines to the header (``run on``, ``as of``)."""
    stream.write(render(report, titles, input_rows, run))


def render(report: Report, titles: Mapping[str, str] | None = None, input_rows: InputRows | None = None,
           run: Mapping[str, str] | None = None) -> str:
    """The page as one string."""
    page = _Page.of(report, titles or {}, input_rows or {}, run or {})
    policy = ("default-src 'none'; "
              f"style-src '{_sha256(_STYLE)}'; script-src '{_sha256(_SCRIPT)}'; "
              "img-src 'none'; connect-src 'none'; font-src 'none'; object-src 'none'; "
              "base-uri 'none'; form-action 'none'")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{_e(policy)}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        "<title>mentorrules report</title>\n",
        f"<style>{_STYLE}</style>\n</head>\n<body>\n",
        page.header(), "<main>\n", page.incomplete(), page.summary(), _input_notes(report), page.findings_table(),
        page.signoff(), "</main>\n",
        page.footer(),
        f'<script type="application/json" id="mr-data">{_json_for_html(page.script_data())}</script>\n',
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n",
    ])


def _input_notes(report: Report) -> str:
    """Cell problems summarised per column, and files of the data folder not read, before the rows."""
    items = [*report.notes, *(f"ignored {path}: {why}" for path, why in report.ignored.items())]
    if not items:
        return ""
    listed = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f'<section id="input-notes"><h2>About the input</h2><ul>{listed}</ul></section>\n'


# -- the page -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Page:
    report: Report
    titles: Mapping[str, str]
    input_rows: InputRows
    run: Mapping[str, str]
    listed: tuple[Decision, ...]
    rules: tuple[str, ...]
    districts: tuple[str, ...]
    programs: tuple[str, ...]

    @classmethod
    def of(cls, report: Report, titles: Mapping[str, str], input_rows: InputRows, run: Mapping[str, str]) -> _Page:
        listed = tuple(decision for decision in report.records if decision.findings)
        rules = sorted({finding.rule for decision in listed for finding in decision.findings})
        districts = sorted({_district(input_rows, d) for d in listed}, key=not_given_last)
        programs = sorted({cell_of(input_rows, d, "program") for d in listed}, key=not_given_last)
        return cls(report, titles, input_rows, run, listed, tuple(rules), tuple(districts), tuple(programs))

    def title(self, rule: str) -> str:
        return self.titles.get(rule, "row could not be read" if rule.startswith("MR") else "")

    # -- sections --------------------------------------------------------------------------------
    def header(self) -> str:
        report = self.report
        packs = ", ".join(f"{name} {version}" for name, version in report.packs) or "none"
        items = [("engine", f"mentorrules {report.version}"), ("packs", packs), ("digest", report.digest)]
        items += list(self.run.items())
        period = report.summary.get("period")
        if period:
            items.append(("period", f"{period['text']} ({period['start']} to {period['end']}); "
                                    "payouts before it are history: read, not judged"))
        items += [(f"input {table}", source) for table, source in report.sources.items()]
        if report.masked:
            items.append(("masked", ", ".join(report.masked)))
        rows = "".join(f'<dt>{_e(term)}</dt><dd class="{"mono" if term == "digest" else ""}">{_e(value)}</dd>'
                       for term, value in items)
        return f"<header>\n<h1>Stipend compliance report</h1>\n<dl>{rows}</dl>\n</header>\n"

    def incomplete(self) -> str:
        """The banner of a partial check: what did not run, and why, before anything else."""
        headline = tally.incomplete(self.report)
        if headline is None:
            return ""
        items = "".join(f"<li>missing {_e(tables)}: "
                        + "; ".join(f"{_e(rule)} {_e(self.title(rule))}" for rule in rules) + "</li>"
                        for tables, rules in tally.not_checked(self.report))
        history = self.report.summary.get("incomplete", {}).get("history_missing", ())
        items += "".join(f"<li>{_e(item['why'])}</li>" for item in history)
        return f'<div class="incomplete" id="incomplete">{_e(headline)}<ul>{items}</ul></div>\n'

    def _money(self) -> str:
        lines = tally.money(self.report)
        if not lines:
            return ""
        kinds = {"payable": "payable", "held": "held"}
        cards = "".join(f'<div class="card {kinds.get(line.name, "")}" id="money-{_e(line.name)}"><b>$'
                        f'{_e(line.amount)}</b><span>{_e(line.label.strip())} \u00b7 {line.rows} rows</span></div>'
                        for line in lines)
        splits = "".join(
            _breakdown(f"Held by {label}", f"held-by-{label.replace(' ', '-')}",
                       f'<th>{_e(label)}</th><th class="num">held</th>',
                       "".join(f'<tr><td><div class="clip place">{_e(key)}</div></td><td class="num">{_e(amount)}</td>'
                               "</tr>" for key, amount in split), 2)
            for label, split in tally.held_by(self.report))
        gaps = tally.gaps(self.report)
        if gaps:
            splits += _breakdown(
                "Group findings", "gaps", '<th>rule</th><th>record</th><th>district</th><th class="num">shortfall</th>'
                '<th class="num">excess</th>',
                "".join(f'<tr><td class="mono">{_e(gap["rule"])}</td><td><div class="clip key mono">{_e(gap["key"])}'
                        f'</div></td><td>{_e(gap["district"])}</td><td class="num">{_e(gap.get("shortfall", ""))}</td>'
                        f'<td class="num">{_e(gap.get("excess", ""))}</td></tr>' for gap in gaps), 5)
        return (f'<h2>Money (USD)</h2>\n<div class="cards money">{cards}</div>\n'
                f'<div class="breakdown">{splits}</div>\n<h2>Rows and findings</h2>\n')

    def summary(self) -> str:
        summary = self.report.summary
        findings = summary["findings"]
        passed = "pass the rules that ran" if tally.incomplete(self.report) else "pass"
        cards = [("rows", summary["rows"], ""), (passed, summary["pass"], "pass"),
                 ("fail", summary["fail"], "fail"), ("unreadable", summary["unreadable"], "error")]
        cards += [(f"{severity} findings", findings[severity], "") for severity in SEVERITIES]
        if "history" in summary:
            cards.append(("history (not judged)", summary["history"], ""))
        if "groups" in summary:
            cards.append(("group findings", summary["groups"]["fail"], ""))
        html_cards = "".join(f'<div class="card {kind}"><b>{count}</b><span>{_e(label)}</span></div>'
                             for label, count, kind in cards)
        skipped = "".join(f"<li>{_e(tables)}: {_e(', '.join(rules))}</li>"
                          for tables, rules in tally.not_checked(self.report))
        if skipped:
            skipped = (f'<div id="not-checked"><h3>Not checked: these rules read a table that was not given</h3>'
                       f'<ul>{skipped}</ul></div>\n')
        values = "".join(f"<li>{_e(line)}</li>" for line in tally.illustrative(self.report))
        if values:
            skipped += (f'<div id="illustrative"><h3>{_e(tally.ILLUSTRATIVE_HEADING)}</h3>'
                        f'<ul class="detail">{values}</ul></div>\n')
        return (f'<section id="summary">\n<h2>Summary</h2>\n{self._money()}<div class="cards">{html_cards}</div>\n'
                f"{skipped}"
                f'<div class="breakdown">{self._by_rule()}{self._by_column("district")}'
                f'{self._by_column("program")}</div>\n</section>\n')

    def _by_rule(self) -> str:
        body = "".join(
            f'<tr><td class="rule mono">{_e(count.rule)}</td><td>{_e(self.title(count.rule))}</td>'
            f'<td><span class="badge {_e(count.severity)}">{_e(count.severity)}</span></td>'
            f'<td class="num">{count.findings}</td><td class="num">{count.rows}</td></tr>'
            for count in tally.by_rule(self.report))
        return _breakdown("Findings by rule", "by-rule",
                          '<th>rule</th><th>title</th><th>severity</th><th class="num">findings</th>'
                          '<th class="num">rows</th>', body, 5)

    def _by_column(self, column: str) -> str:
        body = "".join(
            f'<tr><td><div class="clip place">{_e(count.value)}</div></td><td class="num">{count.rows}</td>'
            f'<td class="num">{count.failing}</td><td class="num">{count.findings}</td></tr>'
            for count in tally.by_column(self.report, self.input_rows, column))
        return _breakdown(f"Findings by {column}", f"by-{column}",
                          f'<th>{column}</th><th class="num">rows</th><th class="num">fail or error</th>'
                          '<th class="num">findings</th>', body, 4)

    def findings_table(self) -> str:
        not_listed = len(self.report.records) - len(self.listed)
        parts = ['<section id="findings">\n<h2>Rows with findings</h2>\n', self._filters()]
        heads = [("status", ""), ("table", ""), ("row", "num"), ("key", ""), ("district", ""), ("program", ""),
                 ("amount", "num")]
        parts.append('<p id="active" hidden></p>\n<table id="rows">\n<thead><tr>' + "".join(
            f'<th class="sortable{" num" if kind else ""}" data-column="{index}" data-kind="{kind or "text"}"'
            f' title="sort by {name}">{name}</th>' for index, (name, kind) in enumerate(heads))
            + "<th>findings</th></tr></thead>\n<tbody>\n")
        parts.extend(self._decision_row(decision) for decision in self.listed)
        parts.append("</tbody>\n</table>\n")
        if not self.listed:
            parts.append('<p class="empty">No row has a finding.</p>\n')
        rows = "1 row without findings is" if not_listed == 1 else f"{not_listed} rows without findings are"
        parts.append(f'<p class="detail">{rows} counted in the summary and not listed.</p>\n</section>\n')
        return "".join(parts)

    def _filters(self) -> str:
        rules = [(rule, f"{rule} \u2014 {self.title(rule)}" if self.title(rule) else rule) for rule in self.rules]
        selects = [("rule", "Rule", "all rules", rules),
                   ("severity", "Severity", "all severities", [(s, s) for s in SEVERITIES]),
                   ("district", "District", "all districts", [(d, d) for d in self.districts]),
                   ("program", "Program", "all programs", [(p, p) for p in self.programs])]
        html_selects = "".join(
            f'<label for="filter-{name}">{label}<select id="filter-{name}">'
            f'<option value="">{everything}</option>'
            + "".join(f'<option value="{index}">{_e(_short(text, 120))}</option>'
                      for index, (_, text) in enumerate(options))
            + "</select></label>"
            for name, label, everything, options in selects)
        return (f'<div class="filters">{html_selects}<label for="filter-search">Payout or payee id'
                '<input id="filter-search" type="search" placeholder="e.g. P-0278 or T-0080" autocomplete="off">'
                '</label><button type="button" id="filter-reset">show all</button>'
                '<span id="shown"></span></div>\n')

    def _decision_row(self, decision: Decision) -> str:
        district = _district(self.input_rows, decision)
        program = cell_of(self.input_rows, decision, "program")
        amount = cell_of(self.input_rows, decision, "amount") if decision.table == "payouts" else ""
        amount = "" if amount == NOT_GIVEN else amount
        status = decision.status.value
        items = "".join(self._finding_item(finding) for finding in decision.findings)
        return (f'<tr class="decision"><td><span class="badge {_e(status)}">{_e(status)}</span></td>'
                f"<td>{_e(decision.table)}</td><td class=\"num\">{decision.row}"
                f"{'' if decision.line is None else f' <small>line {decision.line}</small>'}</td>"
                f'<td><div class="clip key mono">{_e(decision.key)}</div></td>'
                f'<td><div class="clip place">{_e(district)}</div></td>'
                f'<td><div class="clip place">{_e(program)}</div></td>'
                f'<td class="num">{_e(amount)}</td>'
                f'<td class="findings"><ul class="findings">{items}</ul></td></tr>\n')

    def _finding_item(self, finding: Finding) -> str:
        severity = finding.severity.value
        title = self.title(finding.rule)
        parts = [f'<li class="finding"><span class="badge {_e(severity)}">{_e(severity)}</span> '
                 f'<span class="rule mono">{_e(finding.rule)}</span>'
                 + (f' <span class="title">{_e(title)}</span>' if title else "")
                 + f'<div class="clip message">{_e(finding.message)}</div>']
        if finding.parameters:
            parts.append(f'<div class="clip detail mono">{_e("; ".join(finding.parameters))}</div>')
        if finding.gap is not None and finding.gap_kind:
            parts.append(f'<div class="detail">{_e(finding.gap_kind)}: {_e(f"{finding.gap:.2f}")}</div>')
        if finding.rows:
            parts.append(f'<div class="clip detail">rows: {_e(", ".join(finding.rows))}</div>')
        if finding.source is not None:
            parts.append(f'<div class="clip detail">source: {_source(finding)}</div>')
        parts.append("</li>")
        return "".join(parts)

    def signoff(self) -> str:
        """Lines to sign on paper: who prepared the run, who reviewed it."""
        return ('<section class="signoff" id="signoff"><div>Prepared by (name, date)</div>'
                "<div>Reviewed by (name, date)</div></section>\n")

    def footer(self) -> str:
        return ("<footer>Generated by mentorrules. The engine version, the packs and the digest identify "
                "the rules and parameters in force.</footer>\n")

    # -- script data -----------------------------------------------------------------------------
    def script_data(self) -> dict[str, Any]:
        """Per listed row: district and program, and per finding: rule and severity, as indexes
        into the lists the select boxes show, in table order."""
        rule_index = {rule: index for index, rule in enumerate(self.rules)}
        district_index = {name: index for index, name in enumerate(self.districts)}
        program_index = {name: index for index, name in enumerate(self.programs)}
        severity_index = {name: index for index, name in enumerate(SEVERITIES)}
        rows = []
        for decision in self.listed:
            ids = " ".join(dict.fromkeys(value.lower() for value in (
                decision.key, cell_of(self.input_rows, decision, "payee_id")) if value != NOT_GIVEN))
            rows.append({"ids": ids, "district": district_index[_district(self.input_rows, decision)],
                         "program": program_index[cell_of(self.input_rows, decision, "program")],
                         "findings": [[rule_index[f.rule], severity_index[f.severity.value]]
                                      for f in decision.findings]})
        return {"rules": list(self.rules), "severities": list(SEVERITIES), "districts": list(self.districts),
                "programs": list(self.programs), "rows": rows}


# -- small pieces -------------------------------------------------------------------------------
def _district(input_rows: InputRows, decision: Decision) -> str:
    """A row's district; a group record's is the one its finding names (a district's cost share)."""
    if decision.table == "group":
        return next((finding.district for finding in decision.findings if finding.district), NOT_GIVEN)
    return cell_of(input_rows, decision, "district")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, limit: int) -> str:
    # A select box cannot wrap; the full text is in the table.
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _breakdown(heading: str, ident: str, head: str, body: str, columns: int) -> str:
    if not body:
        body = f'<tr><td class="empty" colspan="{columns}">none</td></tr>'
    return (f'<section id="{ident}"><h3>{_e(heading)}</h3><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


def _source(finding: Finding) -> str:
    source = finding.source
    assert source is not None
    text = _e(source.title + (f", {source.section}" if source.section else ""))
    url = source.url
    if url and url.lower().startswith(("http://", "https://")):
        text = f'<a href="{_e(url)}" rel="noopener noreferrer" target="_blank">{text}</a>'
    elif url:
        # Not a web link (javascript:, data:, a path): shown as text, never followed.
        text += f' <span class="mono">{_e(url)}</span>'
    if source.note:
        text += f" ({_e(source.note)})"
    return text


def _json_for_html(value: Any) -> str:
    """JSON that cannot end the script element or open markup inside it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")

