"""Costs are linear (or n log n) in the input's size, whatever its shape.

Each hostile shape is generated at test time at two sizes; the run's time is compared between
them (a generous ratio, never an absolute time), so a cost that grows with the square of the
size fails however fast the machine is, and a slow machine never fails a linear one.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from mentorrules import Engine, MentorRulesError
from mentorrules.inputs import workbooks
from mentorrules.reports import json as json_report
from tests.conftest import GOOD_PAYOUT, PAYOUT_COLUMNS, csv_text, payout

# A quadratic cost at 8 times the size is 64 times slower, a linear one 8 times: a ratio under
# 24 separates them with room for a loaded machine.
GROWTH, LINEAR_LIMIT = 8, 24


def _seconds(run: Callable[[], Any]) -> float:
    """The best of two runs, so that one pause of a loaded machine does not count."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return max(best, 1e-4)


def _ratio(small: Callable[[], Any], large: Callable[[], Any]) -> float:
    return _seconds(large) / _seconds(small)


def _report_text(engine: Engine, data: Any) -> str:
    stream = io.StringIO()
    json_report.write(engine.validate(data), stream)
    return stream.getvalue()


@pytest.fixture(scope="module")
def core() -> Engine:
    return Engine.load(packs=[])


def test_a_wide_csv_header_costs_its_width_once(tmp_path: Path, core: Engine) -> None:
    def folder(width: int) -> Path:
        path = tmp_path / f"w{width}"
        path.mkdir()
        extra = [f"extra_{index}" for index in range(width)]
        rows = [{**payout(payout_id=f"P-{row}")} for row in range(20)]
        text = csv_text(rows, (*PAYOUT_COLUMNS, *extra))
        (path / "payouts.csv").write_text(text)
        return path

    small, large = folder(2_000), folder(2_000 * GROWTH)
    assert _ratio(lambda: _report_text(core, small), lambda: _report_text(core, large)) < LINEAR_LIMIT


def test_a_csv_header_over_the_column_bound_is_refused(tmp_path: Path, core: Engine) -> None:
    (tmp_path / "payouts.csv").write_text(",".join([*PAYOUT_COLUMNS, *(f"c{i}" for i in range(40_000))]) + "\n")
    with pytest.raises(MentorRulesError) as raised:
        core.validate(tmp_path)
    problem = raised.value.problems[0]
    assert problem.code == "MR304" and "40,00" in problem.message and "16,384" in (problem.expected or "")


def test_a_csv_header_repeating_a_name_costs_a_pass(tmp_path: Path, core: Engine) -> None:
    def folder(repeats: int) -> Path:
        path = tmp_path / f"r{repeats}"
        path.mkdir()
        header = [*PAYOUT_COLUMNS, *["note"] * repeats]
        (path / "payouts.csv").write_text(",".join(header) + "\n" + ",".join(GOOD_PAYOUT.values()) + "\n")
        return path

    small, large = folder(1_500), folder(1_500 * GROWTH)
    assert _ratio(lambda: _report_text(core, small), lambda: _report_text(core, large)) < LINEAR_LIMIT
    records = json.loads(_report_text(core, small))["records"]
    assert "'note' more than once" in records[0]["findings"][0]["message"]


def test_a_json_object_repeating_a_key_costs_a_pass(tmp_path: Path, core: Engine) -> None:
    def folder(repeats: int) -> Path:
        path = tmp_path / f"j{repeats}"
        path.mkdir()
        pairs = ", ".join(f'"{name}": "{value}"' for name, value in GOOD_PAYOUT.items())
        pairs += "".join(f', "note": "{index}"' for index in range(repeats))
        (path / "payouts.json").write_text(f"[{{{pairs}}}]")
        return path

    small, large = folder(3_000), folder(3_000 * GROWTH)
    assert _ratio(lambda: _report_text(core, small), lambda: _report_text(core, large)) < LINEAR_LIMIT
    assert "'note' more than once" in json.loads(_report_text(core, small))["records"][0]["findings"][0]["message"]


def test_one_payout_repeated_names_at_most_twenty_rows_per_finding(tmp_path: Path, core: Engine) -> None:
    def folder(copies: int) -> Path:
        path = tmp_path / f"c{copies}"
        path.mkdir()
        (path / "payouts.csv").write_text(csv_text([payout()] * copies))
        return path

    small, large = folder(500), folder(500 * GROWTH)
    small_text, large_text = _report_text(core, small), _report_text(core, large)
    assert len(large_text) / len(small_text) < GROWTH * 1.5  # the report grows with the rows, not their square
    assert _ratio(lambda: _report_text(core, small), lambda: _report_text(core, large)) < LINEAR_LIMIT
    finding = next(finding for finding in json.loads(large_text)["records"][0]["findings"]
                   if finding["rule"] == "STIPEND-006")
    assert finding["rows"][:2] == ["P-1 (row 1)", "P-1 (row 2)"]
    assert len(finding["rows"]) == 21 and finding["rows"][-1] == f"... and {500 * GROWTH - 20:,} more rows"


DISTINCT_RULES = """\
rules:
  - id: SPREAD-001
    title: A payee's payouts are counted by their distinct ids
    table: payouts
    group_by: [payout.payee_id]
    aggregate: {ids: distinct(payout.payout_id)}
    require: count_at_most(ids, payout.payout_id) >= 1
    message: "{payout.payout_id} is not among {payout.payee_id}'s payouts"
    source: {title: test}
"""


def test_distinct_is_sorted_once_per_group_not_once_per_row(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "spread.yaml").write_text(DISTINCT_RULES)
    engine = Engine.load(packs=[], rules=[rules])

    def folder(size: int) -> Path:
        path = tmp_path / f"d{size}"
        path.mkdir()
        (path / "payouts.csv").write_text(csv_text([payout(payout_id=f"P-{index}") for index in range(size)]))
        return path

    small, large = folder(600), folder(600 * GROWTH)
    assert _ratio(lambda: engine.validate(small).summary, lambda: engine.validate(large).summary) < LINEAR_LIMIT


LIST_RULES = """\
rules:
  - id: LIST-001
    title: A payout's district is listed
    table: payouts
    require: payout.district in params.districts
    message: "{payout.district} is not listed"
    source: {title: test}
"""


def test_membership_in_a_long_parameter_list_does_not_scan_it(tmp_path: Path) -> None:
    def engine(entries: int) -> Engine:
        rules = tmp_path / f"rules{entries}"
        rules.mkdir()
        (rules / "districts.yaml").write_text(LIST_RULES)
        listed = "\n".join(f"        - D{index}" for index in range(entries))
        (rules / "parameters.yaml").write_text(
            f"parameters:\n  districts:\n    description: districts\n    values:\n      2016-07-01:\n{listed}\n")
        return Engine.load(packs=[], rules=[rules])

    data = tmp_path / "data"
    data.mkdir()
    columns = (*PAYOUT_COLUMNS, "district")
    (data / "payouts.csv").write_text(csv_text([payout(payout_id=f"P-{index}", district="nowhere")
                                                for index in range(3_000)], columns))
    short, long = engine(1_000), engine(50_000)
    assert long.validate(data).summary["fail"] == 3_000  # the rule ran on every row
    # The same rows against a list 50 times longer: about the same time.
    assert _ratio(lambda: short.validate(data).summary, lambda: long.validate(data).summary) < 3


def _workbook(path: Path, rows: int, dimension: str | None = None, columns: tuple[str, ...] = PAYOUT_COLUMNS) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "payouts"
    sheet.append(list(columns))
    for index in range(rows):
        sheet.append([f"P-{index}" if name == "payout_id" else GOOD_PAYOUT.get(name, "") for name in columns])
    book.save(path)
    if dimension is None:
        return path
    # The file declares a sheet 16,384 columns wide, as a hostile or broken writer may.
    patched = path.with_name("patched-" + path.name)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data)
            target.writestr(entry, data)
    patched.replace(path)
    return path


def test_a_declared_sheet_dimension_does_not_pad_rows(tmp_path: Path, core: Engine) -> None:
    honest = tmp_path / "honest"
    padded = tmp_path / "padded"
    honest.mkdir()
    padded.mkdir()
    _workbook(honest / "payouts.xlsx", 1_500)
    _workbook(padded / "payouts.xlsx", 1_500, dimension="A1:XFD1501")
    assert json.loads(_report_text(core, padded))["summary"]["pass"] == 1_500
    # Padding every row to 16,384 cells would cost about 1,000 times more.
    assert _ratio(lambda: core.validate(honest).summary, lambda: core.validate(padded).summary) < 3


def test_a_workbook_inflating_past_the_bound_is_refused(tmp_path: Path, core: Engine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _workbook(tmp_path / "payouts.xlsx", 3_000)
    inflated = sum(entry.file_size for entry in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(workbooks, "MAX_INFLATED", inflated // 2)  # a bomb, at the scale of a test
    with pytest.raises(MentorRulesError) as raised:
        core.validate(path)
    problem = raised.value.problems[0]
    assert problem.code == "MR307" and f"{inflated:,} bytes" in problem.message


def test_a_session_names_at_most_twenty_rows_as_the_batch_path_does(core: Engine) -> None:
    copies = [payout() for _ in range(30)]
    with core.session(as_of=dt.date(2025, 9, 15)) as session:
        for row in copies:
            session.post("payouts", row)
        posted = session.findings()
    batch = core.validate({"payouts": copies}, as_of=dt.date(2025, 9, 15))
    for decisions in (posted, list(batch.records)):
        rows = next(finding.rows for decision in decisions for finding in decision.findings
                    if finding.rule == "STIPEND-006")
        assert len(rows) == 21 and rows[-1] == "... and 10 more rows"
