"""Loaded packs -> documentation of the rules in force, for administrators (Markdown or HTML).

Per pack: each rule's id, title, what it checks in plain words, severity, effective period,
the parameters it uses with their dated values (illustrative ones marked, with the file to
change them in), its source with a link, and the names of the test cases that concern it;
then the functions the pack offers to expressions.
"""

from __future__ import annotations

import errno
import html
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mentorrules.authoring.testing import Case, load_cases
from mentorrules.checking.evaluation import show
from mentorrules.engine import Engine
from mentorrules.loading.parameters import Parameter
from mentorrules.loading.rulebook import Rule
from mentorrules.located import load_yaml, read_text
from mentorrules.packs.discovery import Pack
from mentorrules.reports import files


def case_names(engine: Engine) -> dict[str, list[str]]:
    """Rule id -> names of the test cases that concern it (see :func:`concerned_rules`)."""
    names: dict[str, list[str]] = {}
    for pack in engine.packs:
        for path in pack.test_files:
            cases, _ = load_cases(path, engine)
            written_for = _rules_lists(path)
            for case in cases:
                listed = written_for.get(case.location.line or 0, frozenset())
                for rule in sorted(concerned_rules(case, listed)):
                    names.setdefault(rule, []).append(case.name)
    return names


def concerned_rules(case: Case, written_for: frozenset[str]) -> set[str]:
    """The rules a case is about: those its ``expect`` names, and those its ``rules:`` list names.

    A case is compared on every rule of the file beside it, but it is written for fewer: a case
    of ``stipends.test.yaml`` that expects STIPEND-002 on a row is about STIPEND-002, not about
    STIPEND-001, which merely holds on the same rows. A case that expects no finding at all says
    what it is about with ``rules:``.
    """
    named = {item if isinstance(item, str) else str(item["rule"])
             for expected in case.expect.values() for item in expected}
    return (named & case.rules) | set(written_for)


def _rules_lists(path: Path) -> dict[int, frozenset[str]]:
    """Line of each case's name -> the ``rules:`` list the case gives (cases without one left out)."""
    text, problem = read_text(path)
    if problem is not None or text is None:
        return {}
    document, problems = load_yaml(text, str(path))
    if problems or not isinstance(document.value, list):
        return {}
    lists = {}
    for index, spec in enumerate(document.value):
        if isinstance(spec, dict) and isinstance(spec.get("rules"), list):
            line = document.location((index, "name")).line
            if line is not None:
                lists[line] = frozenset(str(rule) for rule in spec["rules"])
    return lists


def markdown(engine: Engine, pack: Pack, cases: Mapping[str, list[str]]) -> str:
    """The Markdown page of one pack."""
    parameters = engine.book.parameters_for(pack.name)
    checks: dict[str, list[Rule]] = {}
    for rule in engine.rules:
        if rule.pack == pack.name:
            checks.setdefault(rule.id, []).append(rule)  # a rule with checks is one Rule per check
    rules = [found[0] for found in checks.values()]
    where = f"jurisdiction {pack.jurisdiction}" if pack.jurisdiction else "every jurisdiction"
    count = f"{len(rules)} rule{'' if len(rules) == 1 else 's'}"
    lines = [f"# {pack.name} {pack.version}", "", pack.spec.description or "", "",
             f"Applies to {where}. {count}. Rules and parameters digest: `{engine.digest}`.", ""]
    for rule in sorted(rules, key=lambda rule: rule.id):
        lines += [f"## {rule.id} — {rule.title}", ""]
        if rule.description:
            lines += [rule.description.strip(), ""]
        for name, text in rule.named:
            lines.append(f"- **Let** `{name}` = `{text}`")
        if rule.check is None:
            lines.append(f"- **Checks** ({rule.table}): `{rule.require.text.strip()}`"
                         + (f" when `{rule.when.text.strip()}`" if rule.when else ""))
        else:
            lines.append(f"- **Checks** ({rule.table}, one finding per check that fails)"
                         + (f" when `{rule.when.text.strip()}`:" if rule.when else ":"))
            lines += [f"  - `{check.check}`: `{check.require.text.strip()}` — {_message_words(check)}"
                      for check in checks[rule.id]]
        lines.append(f"- **Severity**: {rule.severity.value}")
        if rule.batch is not None:
            lines.append(f"- **Across rows**: {_batch_words(rule)}")
        if rule.effective_from or rule.effective_to:
            lines.append(f"- **In force**: {_period(rule)}")
        if rule.source:
            link = f" — <{rule.source.url}>" if rule.source.url else ""
            section = f", {rule.source.section}" if rule.source.section else ""
            note = f" ({rule.source.note.strip()})" if rule.source.note else ""
            lines.append(f"- **Source**: {rule.source.title}{section}{link}{note}")
        for name in sorted(rule.parameters):
            lines.append(f"- **Parameter** `{name}`: {_parameter_words(parameters[name])}")
        for name in sorted({function.split(":", 1)[1] for expression in rule.expressions
                            for function in expression.functions if function.startswith("table_lookup:")}):
            table = engine.book.decision_tables[name]
            outputs = ", ".join(output for output, _ in table.outputs)
            lines.append(f"- **Decision table** `{name}` ({table.source}, {len(table.rows)} rows, "
                         f"{table.hit_policy}): {', '.join(table.inputs)} → {outputs}")
        tests = cases.get(rule.id, [])
        lines.append(f"- **Tests** ({len(tests)}): " + (", ".join(f"“{name}”" for name in tests) if tests else "none"))
        lines.append("")
    if pack.functions:
        lines += ["## Functions", "", "Functions this pack offers to rule expressions.", ""]
        lines += [f"- `{name}{_signature(function)}`: {_first_line(function)}"
                  for name, function in sorted(pack.functions.items())]
    return "\n".join(lines).rstrip() + "\n"


def _message_words(rule: Rule) -> str:
    """A rule's message template as written (``{payout.amount}`` kept as the placeholder)."""
    return "".join(part if isinstance(part, str) else "{" + part.text.strip() + "}" for part in rule.message)


def _signature(function: Callable[..., Any]) -> str:
    """``(day, year_start='07-01')``: a function's parameters as a rule calls it, without types."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature
        return "(...)"
    parameters = [parameter.replace(annotation=inspect.Parameter.empty)
                  for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


def _first_line(function: Callable[..., Any]) -> str:
    """The first line of a function's docstring in Markdown (``x`` and :func:`f` as `x`, `f`)."""
    lines = (inspect.getdoc(function) or "").strip().splitlines()
    return re.sub(r":\w+:`", "`", lines[0]).replace("``", "`") if lines else "(no description)"


def _batch_words(rule: Rule) -> str:
    assert rule.batch is not None
    parts = []
    if rule.batch.group_by:
        parts.append("grouped by " + ", ".join(expression.text for _, expression in rule.batch.group_by))
    parts += [f"{aggregate.name} = {aggregate.function}({aggregate.argument.text if aggregate.argument else ''})"
              for aggregate in rule.batch.aggregates]
    parts += [f"{lookup.name} = {lookup.aggregate.function} of linked {lookup.table}"
              + (f" (only rows passing {', '.join(lookup.only_passing)})" if lookup.only_passing else "")
              for lookup in rule.batch.lookups]
    if rule.batch.findings_on == "group":
        parts.append("one finding per group")
    if rule.batch.hold == "later":
        parts.append("holds the row where it starts to fail, by date, and the later ones (hold: later)")
    return "; ".join(parts)


def _period(rule: Rule) -> str:
    start = rule.effective_from.isoformat() if rule.effective_from else "the beginning"
    end = rule.effective_to.isoformat() if rule.effective_to else "until changed"
    return f"from {start} to {end}" if rule.effective_to else f"from {start}"


def _parameter_words(parameter: Parameter) -> str:
    values = "; ".join(f"from {start.isoformat()}: {show(value) if value is not None else 'no value'}"
                       for start, value in zip(parameter.starts, parameter.values, strict=True))
    note = f" *(illustrative: an administrator's choice, change it in {_parameter_file(parameter)})*" \
        if parameter.illustrative else ""
    return f"{parameter.description.strip()} — {values}{note}"


def _parameter_file(parameter: Parameter) -> str:
    """Where an administrator changes a parameter: its file, and the pack it belongs to."""
    where = Path(parameter.location.path).name if parameter.location.path else "the parameter files"
    return f"{where} of the {parameter.pack} pack"


def html_page(markdown_text: str, title: str) -> str:
    """A small self-contained HTML rendering of the Markdown above (headings, lists, code)."""
    body = []
    in_list = False
    for line in markdown_text.splitlines():
        escaped = html.escape(line, quote=True)
        escaped = _inline(escaped)
        if line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{escaped[2:]}</li>")
            continue
        if in_list:
            body.append("</ul>")
            in_list = False
        if line.startswith("## "):
            body.append(f"<h2>{escaped[3:]}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{escaped[2:]}</h1>")
        elif line.strip():
            body.append(f"<p>{escaped}</p>")
    if in_list:
        body.append("</ul>")
    style = ("body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "code{background:#f3f3f3;padding:0 .2em}h2{border-top:1px solid #ddd;padding-top:1rem}")
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{style}</style><body>{''.join(body)}</body></html>\n")


def _inline(escaped: str) -> str:
    """Render `code`, **bold** and <http links> of already escaped text."""
    escaped = re.sub(r"`([^`]*)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>", escaped)
    escaped = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", escaped)
    return re.sub(r"&lt;(https?://[^&\s]+)&gt;", r'<a href="\1">\1</a>', escaped)


def pages(engine: Engine, kind: str, packs: Iterable[Pack] | None = None) -> dict[str, str]:
    """One page per pack, Markdown or HTML, by pack name."""
    cases = case_names(engine)
    rendered = {}
    for pack in packs or engine.packs:
        text = markdown(engine, pack, cases)
        rendered[pack.name] = html_page(text, f"{pack.name} rules") if kind == "html" else text
    return rendered


_FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.(md|html)", re.ASCII)


def write(engine: Engine, kind: str, output: Path, packs: Iterable[Pack] | None = None) -> list[Path]:
    """Write one page per pack into ``output``; give the files written."""
    written = []
    for name, text in pages(engine, kind, packs).items():
        output.mkdir(parents=True, exist_ok=True)
        # A pack's name is of the id alphabet (packs/discovery.py), so this stays in ``output``.
        path = output / f"{name}.{'html' if kind == 'html' else 'md'}"
        if path.parent != output or not _FILE_NAME.fullmatch(path.name):  # never outside ``output``
            raise OSError(errno.EINVAL, f"the pack name {name!r} cannot be a file name", str(path))
        with files.replacing(path) as stream:  # whole or not at all
            stream.write(text)
        written.append(path)
    return written
