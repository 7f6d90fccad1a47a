"""Coverage-guided fuzzing of the rule loader and the expression checker with atheris (libFuzzer).

Not part of the test suite (atheris is an optional tool); ``make fuzz`` runs it after the long
hypothesis run when ``pip install atheris`` works. Each input is split by its first byte:

- an expression, checked against a scope like a payout rule's (parse, then compile and run it
  on a row when it is accepted);
- a rule file (YAML text) loaded with core's functions and a small parameter file;
- a parameter file loaded alone.

A crash is any exception other than the located problems the engine promises; libFuzzer then
saves the input (``crash-*``) and stops. Extra arguments go to libFuzzer, e.g.
``python tests/properties/atheris_fuzz.py -runs=100000`` or ``-max_total_time=600``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["mentorrules"]):
    from mentorrules.checking.codegen import CANNOT_CHECK, Mode, Namespace, Renderer, build
    from mentorrules.errors import Problem
    from mentorrules.loading.expressions import ExpressionError, parse
    from mentorrules.loading.rulebook import load, scope_for
    from mentorrules.packs.discovery import discover, local_pack

FOLDER = Path(tempfile.mkdtemp(prefix="mentorrules-atheris-"))
PARAMETERS = """\
parameters:
  cap: {description: cap, values: {2016-07-01: {mentor: 2000.00, mentee: 1000.00}}}
  roles: {description: roles, values: {2016-07-01: [mentor, mentee]}}
"""
(FOLDER / "parameters.yaml").write_text(PARAMETERS, encoding="utf-8")
CORE = dataclasses.replace(next(pack for pack in discover([])[0] if pack.name == "core"),
                           rule_files=(), parameter_files=())
BOOK = load([CORE, local_pack(FOLDER)])
assert not BOOK.problems, BOOK.problems
PAYOUTS = BOOK.tables["payouts"]
SCOPE = scope_for(PAYOUTS, BOOK.tables, BOOK.parameters_for(BOOK.packs[-1].name), BOOK.signatures)
ROW = PAYOUTS.record_of({"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X", "state": "XX",
                         "school_year": "2025-26", "pay_date": dt.date(2025, 9, 15), "amount": None})


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's


def check_problems(problems: tuple[Problem, ...], path: Path, text: str) -> None:
    """Every problem of the fuzzed file is on one of its lines, at one of the line's columns."""
    lines = _LINE_BREAK.split(text)
    for problem in problems:
        location = problem.location
        if location.path != str(path) or location.line is None:
            continue
        line = location.line
        if not 1 <= line <= len(lines) or not 1 <= (location.column or 1) <= len(lines[line - 1]) + 1:
            raise AssertionError(f"outside the file: {problem}")


def expression(text: str) -> None:
    try:
        checked = parse(text, SCOPE, want="boolean")
    except ExpressionError as error:
        for mistake in error.all:
            if not 0 <= mistake.offset <= len(text):
                raise AssertionError(f"offset outside the text: {mistake}") from None
        return
    namespace = Namespace()
    facts = {"payout": "payout", **{name: name for name in PAYOUTS.relations}}
    columns = {name: BOOK.tables[table].positions for name, table in SCOPE.fact_tables.items()}
    renderer = Renderer(namespace, facts, columns, BOOK.parameters_for(BOOK.packs[-1].name), BOOK.functions)
    arguments = ", ".join(facts)
    for mode in (Mode.FAST, Mode.SAFE):
        function = build(f"def f({arguments}, _d):\n    return {renderer.render(checked, mode)}\n", namespace,
                         "<atheris>")["f"]
        with contextlib.suppress(CANNOT_CHECK):  # "cannot check" is a finding, not a crash
            function(ROW, *(None for _ in PAYOUTS.relations), dt.date(2025, 9, 15))


def rule_file(text: str, *, parameters: bool = False) -> None:
    path = FOLDER / ("fuzz.parameters.yaml" if parameters else "fuzz.yaml")
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        book = load([CORE, local_pack(FOLDER)])
    finally:
        path.unlink()
    check_problems(book.problems, path, text)


def one_input(data: bytes) -> None:
    if not data:
        return
    text = data[1:].decode("utf-8", "replace")
    kind = data[0] % 3
    if kind == 0:
        expression(text)
    elif kind == 1:
        rule_file(text)
    else:
        rule_file(text, parameters=True)


def write_seeds(folder: Path) -> None:
    """Seed inputs: the packs' real rule and parameter files, and some expressions."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, pack in enumerate(discover(None)[0]):
        for index, path in enumerate(pack.rule_files):
            (folder / f"rules-{number}-{index}").write_bytes(b"\x01" + path.read_bytes())
        for index, path in enumerate(pack.parameter_files):
            (folder / f"parameters-{number}-{index}").write_bytes(b"\x02" + path.read_bytes())
    for index, text in enumerate(["payout.amount > 0 and places(payout.amount) <= 2",
                                  "payout.role in params.roles", "payout.amount <= params.cap[payout.role]",
                                  "school_year(payout.pay_date) == payout.school_year"]):
        (folder / f"expression-{index}").write_bytes(b"\x00" + text.encode())


def main() -> None:
    if sys.argv[1:2] == ["--seeds"]:
        write_seeds(Path(sys.argv[2]))
        return
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
