"""The columnar backend writes the reference's reports, byte for byte.

Differential tests: the same data checked with ``engine="columnar"`` and ``engine="python"``
(the row-at-a-time reference) gives identical reports in every format, on the example data, on
the world of every YAML rule case, on generated data sets full of defects, and on random
worlds (hypothesis) with empty and unreadable cells, repeated keys, boundary dates and amounts,
and missing tables. A screen that let a failing row slip would show here as a missing finding.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentorrules import Engine
from mentorrules.authoring.testing import DEFAULT_AS_OF, find_test_files, load_cases
from mentorrules.checking.columnar import ColumnarRun, supports
from mentorrules.cli import main
from mentorrules.model import Report
from mentorrules.reports import csv as csv_report
from mentorrules.reports import json as json_report
from mentorrules.reports import text as text_report

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402  (bench/ is not a package)

ENGINE = Engine.load()
AS_OF = dt.date(2026, 1, 1)


def rendered(report: Report) -> str:
    """The report in the three text formats the CLI writes (html and xlsx are tested end to end)."""
    parts = []
    for module in (json_report, csv_report, text_report):
        stream = io.StringIO()
        module.write(report, stream)
        parts.append(stream.getvalue())
    return "\n=====\n".join(parts)


def both(data: Any, as_of: dt.date = AS_OF, mask: list[str] | None = None) -> tuple[str, str]:
    columnar = rendered(ENGINE.validate(data, as_of=as_of, mask=mask, engine="columnar"))
    python = rendered(ENGINE.validate(data, as_of=as_of, mask=mask, engine="python"))
    return columnar, python


def fallbacks(data: Any, as_of: dt.date = AS_OF) -> dict[str, str]:
    """The rules the columnar run had to run row-at-a-time on this data though the plan had a
    columnar form (a screen that failed on the data)."""
    dataset = ENGINE.read(data, every_column=False)
    run = ColumnarRun(ENGINE.evaluator, ENGINE.batch_rules, dataset.tables, as_of, ENGINE.columnar_plan(),
                      skipped=frozenset(ENGINE.not_checked(dataset.tables)))
    run.decide()
    return run.fallbacks


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "html", "xlsx"])
def test_every_report_format_is_the_same_on_the_examples(fmt: str, tmp_path: Path) -> None:
    outputs = []
    for engine in ("columnar", "python"):
        out = tmp_path / f"{engine}.{fmt}"
        code = main(["validate", str(EXAMPLES), "--as-of", "2026-01-01", "--format", fmt, "--output", str(out),
                     "--engine", engine])
        assert code == 1  # the examples have findings
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_masked_reports_are_the_same_on_the_examples() -> None:
    columnar, python = both(EXAMPLES, mask=["name", "email", "payee_id"])
    assert columnar == python


def test_the_examples_run_columnar_without_falling_back() -> None:
    assert fallbacks(EXAMPLES) == {}


def test_most_rules_have_a_columnar_form_and_the_others_say_why() -> None:
    where = ENGINE.runs_where()
    assert set(where) == {rule.id for rule in ENGINE.rules}
    assert sum(reason is None for reason in where.values()) >= len(where) * 3 // 4
    for rule in ENGINE.rules:
        assert supports(rule, ENGINE.book) == where[rule.id]
    assert where["STIPEND-002"] is None and where["NMP-006"] is None
    assert where["CS-008"] == "only_passing lookups run row-at-a-time"


def test_an_unknown_batch_option_falls_back_rather_than_differs() -> None:
    """An option this backend does not know (another helper may add one) makes the rule run
    row-at-a-time, never silently ignored."""
    import dataclasses

    rule = next(rule for rule in ENGINE.rules if rule.id == "DUP-001" or rule.batch is not None)
    assert rule.batch is not None
    Extended = dataclasses.make_dataclass("Extended", [("window", str, dataclasses.field(default="week"))],
                                          bases=(type(rule.batch),), frozen=True)
    extended = dataclasses.replace(rule, batch=Extended(**vars(rule.batch)))
    reason = supports(extended, ENGINE.book)
    assert reason is not None and "window" in reason


def test_the_engine_option_is_checked() -> None:
    from mentorrules.errors import MentorRulesError

    with pytest.raises(MentorRulesError, match="unknown engine"):
        ENGINE.validate(EXAMPLES, as_of=AS_OF, engine="sql")


# -- every rule case's world ----------------------------------------------------------------------
CASES = [case for path in find_test_files(ENGINE) for case in load_cases(path, ENGINE)[0]]


def _world(case: Any) -> dict[str, list[dict[str, Any]]]:
    return {**{name: [] for name in ENGINE.tables}, **case.tables}


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{Path(case.path).name}: {case.name}")
def test_every_rule_case_world_gives_the_same_report(case: Any) -> None:
    world = _world(case)
    columnar, python = both(world, case.as_of or DEFAULT_AS_OF)
    assert columnar == python
    # Each case also checked without the tables it leaves empty (rules left unchecked).
    partial = dict(case.tables)
    if partial:
        columnar, python = both(partial, case.as_of or DEFAULT_AS_OF)
        assert columnar == python


# -- generated data sets --------------------------------------------------------------------------
@pytest.mark.parametrize(("seed", "violations"), [(11, 0.02), (5, 0.3)])
def test_generated_data_sets_give_the_same_report(tmp_path: Path, seed: int, violations: float) -> None:
    generate(tmp_path, payouts=3000, seed=seed, violations=violations)
    columnar, python = both(tmp_path)
    assert columnar == python
    assert fallbacks(tmp_path) == {}


# -- random worlds --------------------------------------------------------------------------------
def _example_values() -> dict[str, dict[str, list[str]]]:
    """Per table and column, a few values seen in the examples (so that rules apply and rows
    link), for the random worlds to mix with edge cases."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in sorted(EXAMPLES.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream))
        columns: dict[str, list[str]] = {}
        for row in rows:
            for column, value in row.items():
                seen = columns.setdefault(column, [])
                if value not in seen and len(seen) < 6:
                    seen.append(value)
        found[path.stem] = columns
    return found


EXAMPLE_VALUES = _example_values()
EDGES: Mapping[str, list[str]] = {
    "text": ["", "x", "NM", "AK", "mentor", "mentee"],
    "integer": ["", "0", "1", "2", "-1", "3", "abc", "99999999999999999999999"],
    "decimal": ["", "0", "0.00", "250.005", "100.5", "2000.00", "-5", "1e3", "abc", "0.01", "999999.99"],
    "date": ["", "2025-06-30", "2025-07-01", "2024-02-29", "2026-01-01", "2016-07-01", "31/12/2025", "2025-02-30"],
    "boolean": ["", "true", "false", "yes", "maybe"],
    "list": ["", "a", "a;b"],
}


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, list[dict[str, str]]]:
    world: dict[str, list[dict[str, str]]] = {}
    for name, table in ENGINE.tables.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # a missing table: its rules are not checked
        examples = EXAMPLE_VALUES.get(name, {})
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            row = {}
            for column, kind in table.fields.items():
                pool = examples.get(column, []) + EDGES[kind][:3]
                if draw(st.integers(0, 5)) == 0:
                    pool = EDGES[kind]
                row[column] = draw(st.sampled_from(pool))
            rows.append(row)
        if rows and draw(st.booleans()):
            rows.append(dict(draw(st.sampled_from(rows))))  # a repeated key
        world[name] = rows
    return world


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.sampled_from([dt.date(2025, 6, 30), dt.date(2025, 7, 1), AS_OF]))
def test_random_worlds_give_the_same_report(world: dict[str, list[dict[str, str]]], as_of: dt.date) -> None:
    columnar, python = both(world, as_of)
    assert columnar == python


def test_a_column_polars_cannot_hold_falls_back_to_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """A streamed table whose columns cannot be built (a value Polars cannot hold) is checked
    row-at-a-time, with the same report."""
    from mentorrules.checking.columnar import frames, run
    from mentorrules.checking.columnar.translate import Unsupported

    original = frames.series

    def refusing(name: str, kind: str, values: Any) -> Any:
        if name == "amount":
            raise Unsupported("column 'amount': refused for the test")
        return original(name, kind, values)

    monkeypatch.setattr(frames, "series", refusing)
    monkeypatch.setattr(run, "frame_of", lambda *a, **k: frames.frame_of(*a, **k))
    monkeypatch.setattr(run, "csv_columns", lambda *a, **k: None)  # frames built from the records
    columnar, python = both(EXAMPLES)
    assert columnar == python
    found = fallbacks(EXAMPLES)
    assert found and all("could not be built" in reason for reason in found.values())


def test_packs_and_explain_say_which_rules_run_row_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    main(["packs"])
    out = capsys.readouterr().out
    row_at_a_time = [rule for rule, why in ENGINE.runs_where().items() if why is not None]
    where = ENGINE.runs_where()
    assert f"validation engine: columnar, {len(where) - len(row_at_a_time)} of {len(where)} rules" in out
    for rule in row_at_a_time:
        assert f"  {rule}: {ENGINE.runs_where()[rule]}" in out
    main(["explain", str(EXAMPLES), "--record", "pairings:PR-0001", "--as-of", "2026-01-01"])
    assert "validate's columnar engine runs ASMP-010 row-at-a-time" in capsys.readouterr().out


# -- a month against its history, money and the pay and hold files ---------------------------------
@pytest.mark.parametrize("period", ["2025-12", "2026-05-01..2026-06-30", "2025-26"])
def test_a_period_gives_the_same_report_money_and_split_files(tmp_path: Path, period: str) -> None:
    data = tmp_path / "data"
    generate(data, payouts=3000, seed=7, violations=0.1)
    outputs = []
    for engine in ("columnar", "python"):
        out, split = tmp_path / f"{engine}.json", tmp_path / f"split-{engine}"
        split.mkdir()
        code = main(["validate", str(data), "--as-of", "2026-07-01", "--period", period, "--format", "json",
                     "--output", str(out), "--split", str(split), "--engine", engine])
        assert code == 1
        outputs.append((out.read_bytes(), {path.name: path.read_bytes() for path in sorted(split.iterdir())}))
    assert outputs[0] == outputs[1]
    money = json.loads(outputs[0][0])["summary"]["money"]
    assert money["rows"]["held"] > 0
    assert money["rows"]["history"] > 0 or period == "2025-26"


def test_rows_whose_state_is_not_known_are_found_by_both() -> None:
    """A pairing with no state of its own and a district not in districts: every state rule
    whose when holds says it cannot check it, on both backends."""
    world = _world(CASES[0])
    pairing = {"pairing_id": "PR-9", "program": "AK_ASMP", "mentor_id": "T-1", "mentee_id": "T-2",
               "school_year": "2025-26", "start_date": "2025-08-01", "status": "active", "district": "Nowhere"}
    world = {**world, "pairings": [pairing], "districts": []}
    columnar, python = both(world)
    assert columnar == python
    assert "state is not known" in columnar


# -- tables written in bulk ------------------------------------------------------------------------
AWKWARD_KEYS = ["=SUM(1)", "a,b", 'quote"d', "tab\tin", "-5", "ünï", "back\\slash", "@x", " spaced ", "+1",
                "line\nbreak", "\x01control"]


def test_keys_json_and_csv_escape_are_written_the_same_in_bulk(tmp_path: Path) -> None:
    """Passing rows are formatted over columns; keys the JSON or CSV writer must escape, quote or
    neutralise take the row-by-row path, in their place."""
    for path in EXAMPLES.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with (EXAMPLES / "payouts.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    for row, key in zip(rows, AWKWARD_KEYS, strict=False):
        row["payout_id"] = key
    with (tmp_path / "payouts.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    columnar, python = both(tmp_path)
    assert columnar == python
    assert '"key": "quote\\"d"' in columnar and "'=SUM(1)" in columnar


def test_chunks_of_a_bulk_table_join_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_report, "CHUNK", 7)
    monkeypatch.setattr(csv_report, "CHUNK", 7)
    columnar, python = both(EXAMPLES)
    assert columnar == python


def test_a_generated_data_set_of_100k_payouts_gives_the_same_reports(tmp_path: Path) -> None:
    """The issue's size for a differential run: bench/generate.py at 100k payouts, JSON and CSV."""
    data = tmp_path / "data"
    generate(data, payouts=100_000, seed=11, violations=0.02)
    for fmt in ("json", "csv"):
        outputs = []
        for engine in ("columnar", "python"):
            out = tmp_path / f"{engine}.{fmt}"
            assert main(["validate", str(data), "--as-of", "2026-07-01", "--format", fmt, "--output", str(out),
                         "--engine", engine]) == 1
            outputs.append(out.read_bytes())
        assert outputs[0] == outputs[1]


def test_held_tables_read_as_columns_give_the_reference_records_and_indexes(tmp_path: Path) -> None:
    """People, pairings and attendance held as columns: their records (made when asked, in any
    order) and their key indexes (repeated and unreadable keys) are the reference reader's."""
    from mentorrules.checking.validation import index_tables
    from mentorrules.inputs.reading import Rows

    generate(tmp_path, payouts=2000, seed=3, violations=0.3)
    people = (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()
    people += [people[5], people[7].replace(",", ",x", 5)]  # a repeated person, an unreadable row
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    reference = ENGINE.read(tmp_path, every_column=False)
    columns = ENGINE.read(tmp_path, every_column=False, columns=True)
    assert set(columns.columns) >= {"people", "pairings", "attendance"}
    for name, rows in reference.tables.items():
        held = columns.tables[name]
        if not isinstance(rows, Rows):
            continue
        assert isinstance(held, Rows)
        assert list(held.records) == list(rows.records), name
        backwards = [held.records[index] for index in reversed(range(len(rows)))]
        assert backwards == list(reversed(rows.records)), name
        assert held.problems == rows.problems, name
    expected, found = index_tables(ENGINE.tables, reference.tables), index_tables(ENGINE.tables, columns.tables)
    for name, index in expected.items():
        assert dict(found[name].items()) == dict(index.items()), name
        assert found[name].unreadable == index.unreadable, name
        marked = getattr(reference.tables.get(name), "problems", None)
        assert getattr(columns.tables.get(name), "problems", None) == marked, name
    assert any(problem.code == "MR313" for problems in columns.tables["people"].problems.values()
               for problem in problems)
