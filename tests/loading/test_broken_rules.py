"""Broken rule and parameter files -> every problem, located, and exit code 2 without a traceback.

Each case in ``tests/broken/`` is ``NAME.yaml`` (a rule file) or ``NAME/`` (a directory of rule
and parameter files), with ``NAME.expected``:

    # a sentence saying what the case shows (the test id)
    # xfail: BUG: one line, when the engine is known to get this case wrong
    unknown_parameter/caseload.yaml:5:36: MR203 unknown parameter 'max_mentee'
       = help: did you mean 'max_mentees'?

Every problem line must be reported and nothing else: a file with several mistakes gets all
of them at once. ``= expected`` / ``= help:`` lines under a problem must be among its details.
A problem line ending in ``...`` matches any message that starts with the text before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mentorrules import Engine, MentorRulesError, Problem

BROKEN = Path(__file__).resolve().parents[1] / "broken"


@dataclass(frozen=True)
class Case:
    name: str
    subject: Path
    sentence: str
    expected: tuple[tuple[str, tuple[str, ...]], ...]  # (problem line, its detail lines)


def read_case(expected_file: Path) -> Case:
    name = expected_file.name.removesuffix(".expected")
    subject = BROKEN / f"{name}.yaml"
    if not subject.exists():
        subject = BROKEN / name
    sentence, problems = name, []
    for line in expected_file.read_text("utf-8").splitlines():
        if line.startswith("# xfail:"):
            continue
        if line.startswith("# "):
            sentence = line[2:]
        elif line.startswith("   = "):
            head, details = problems[-1]
            problems[-1] = (head, (*details, line.strip()))
        elif line.strip():
            problems.append((line, ()))
    return Case(name, subject, sentence, tuple(problems))


def cases() -> list[object]:
    params = []
    for expected_file in sorted(BROKEN.glob("*.expected")):
        case = read_case(expected_file)
        marks = [pytest.mark.xfail(strict=True, reason=line.removeprefix("# xfail:").strip())
                 for line in expected_file.read_text("utf-8").splitlines()
                 if line.startswith("# xfail:")]
        params.append(pytest.param(case, id=case.sentence, marks=marks))
    return params


def shown(problem: Problem) -> tuple[str, tuple[str, ...]]:
    """A problem as its header line and detail lines, paths relative to the corpus."""
    prefix = f"{BROKEN}/"
    head = f"{problem.location}: {problem.code} {problem.message}".replace(prefix, "")
    details = []
    if problem.expected:
        details.append(f"= expected {problem.expected}".replace(prefix, ""))
    if problem.hint:
        details.append(f"= help: {problem.hint}".replace(prefix, ""))
    return head, tuple(details)


def matches(wanted: str, head: str) -> bool:
    return head.startswith(wanted[:-3]) if wanted.endswith("...") else head == wanted


def problems_of(subject: Path) -> list[tuple[str, tuple[str, ...]]]:
    with pytest.raises(MentorRulesError) as raised:
        Engine.load(packs=[], rules=[subject])
    return [shown(problem) for problem in raised.value.problems]


def test_the_corpus_has_at_least_35_distinct_mistakes() -> None:
    assert len(cases()) >= 35
    for expected_file in BROKEN.glob("*.expected"):
        case = read_case(expected_file)
        assert case.subject.exists(), f"{expected_file.name} has no {case.name}.yaml or {case.name}/"
        assert case.expected, f"{expected_file.name} lists no problem"


@pytest.mark.parametrize("case", cases())
def test_every_problem_of_a_broken_file_is_reported_where_it_is(case: Case) -> None:
    reported = problems_of(case.subject)
    unmatched = list(reported)
    for wanted, wanted_details in case.expected:
        found = next((item for item in unmatched if matches(wanted, item[0])), None)
        assert found is not None, f"not reported: {wanted}\nreported:\n" + "\n".join(
            head for head, _ in reported)
        for detail in wanted_details:
            assert detail in found[1], f"{wanted}: no {detail!r} in {found[1]}"
        unmatched.remove(found)
    assert not unmatched, "reported but not expected:\n" + "\n".join(head for head, _ in unmatched)


@pytest.mark.parametrize("case", cases())
def test_the_cli_refuses_a_broken_file_with_exit_2_and_no_traceback(case: Case, run_cli) -> None:
    result = run_cli("lint", "--pack", "core", case.subject)
    assert result.code == 2
    assert "Traceback" not in result.err + result.out
    for wanted, _ in case.expected:
        assert f"broken/{wanted.removesuffix('...')}" in result.err


def test_a_broken_file_fails_validate_as_a_subprocess(run_command, tmp_path: Path) -> None:
    (tmp_path / "payouts.csv").write_text("payout_id\nP-1\n", encoding="utf-8")
    result = run_command("validate", tmp_path / "payouts.csv", "--pack", "core",
                         "--rules", BROKEN / "unknown_parameter")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "caseload.yaml:5:36: MR203 unknown parameter 'max_mentee'" in result.err
    assert "= help: did you mean 'max_mentees'?" in result.err
    assert result.out == ""


@pytest.mark.parametrize("loader", ["LibYAML", "the pure-Python parser"])
@pytest.mark.parametrize("depth", [41, 500, 999])
def test_a_file_nested_hundreds_of_levels_deep_is_a_located_problem(monkeypatch, loader: str, depth: int) -> None:
    import yaml

    from mentorrules import located

    if loader != "LibYAML":
        monkeypatch.setattr(located, "_Loader", yaml.SafeLoader)
    text = "parameters:\n  cap:\n    values:\n      2016-07-01: " + "{a: " * depth + "1" + "}" * depth + "\n"
    _, problems = located.load_yaml(text, "parameters.yaml")
    assert [problem.code for problem in problems] == ["MR100"]
    assert problems[0].location.line in (1, 4)


_GOOD_RULE = ("rules:\n  - id: T-001\n    title: Amounts are positive\n    table: payouts\n"
              "    require: payout.amount > 0\n    message: \"amount {payout.amount}\"\n")
_UNCLOSED = {  # what is left open -> (the value that opens it, the start of the message)
    "quote": ('"2000.00', "the quoted text opened here with '\"'"),  # is never closed, or runs on
    "brace": ("{mentor: 2000.00, mentee: 1000.00", "the mapping opened here with '{' is never closed"),
    "bracket": ("[mentor, mentee", "the list opened here with '[' is never closed"),
}


@pytest.mark.parametrize("kind", ["rule", "parameter", "test"])
@pytest.mark.parametrize("left_open", sorted(_UNCLOSED))
def test_an_unclosed_quote_or_bracket_is_shown_where_it_opens(run_cli, tmp_path: Path, kind: str,
                                                              left_open: str) -> None:
    value, message = _UNCLOSED[left_open]
    opening = {
        "rule": "    title: ",
        "parameter": "      2016-07-01: ",
        "test": "  tables: ",
    }[kind]
    text = {
        "rule": f"rules:\n  - id: T-001\n{opening}{value}\n    table: payouts\n"
                "    require: payout.amount > 0\n    message: \"amount\"\n",
        "parameter": f"parameters:\n  cap:\n    values:\n{opening}{value}\n  other:\n    values:\n"
                     "      2016-07-01: 1\n",
        "test": f"- name: a case\n{opening}{value}\n  expect: {{P-1: []}}\n",
    }[kind]
    folder = tmp_path / "rules"
    folder.mkdir()
    name = {"rule": "rules.yaml", "parameter": "parameters.yaml", "test": "rules.test.yaml"}[kind]
    if kind != "rule":
        (folder / "rules.yaml").write_text(_GOOD_RULE, encoding="utf-8")
    (folder / name).write_text(text, encoding="utf-8")
    line = text.splitlines().index(f"{opening}{value}") + 1
    column = len(opening) + 1
    result = run_cli("test", "--pack", "core", folder)
    assert result.code == 2
    assert f"{name}:{line}:{column}: MR100 {message} " in result.err
    snippet = f"{line} | {opening}{value}\n{' ' * len(str(line))} | {' ' * (column - 1)}^\n"
    assert snippet in result.err  # the source line, with a caret under the quote or bracket
    assert "Traceback" not in result.err


@pytest.mark.parametrize("left_open", ["brace", "bracket"])
def test_a_bracket_left_open_on_the_last_line_is_shown_where_it_opens(tmp_path: Path, left_open: str) -> None:
    from mentorrules import located

    value, message = _UNCLOSED[left_open]
    text = _GOOD_RULE + f"    tags: {value},\n"
    _, problems = located.load_yaml(text, "rules.yaml")
    assert [(problem.location.line, problem.location.column) for problem in problems] == [(7, 11)]
    assert problems[0].message.startswith(message)
