"""A finance officer's run: this month against its history, loud partial checks, pay and hold files.

Each mistake is built from ``examples/`` at test time, in a temporary folder (never committed).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import generated_data

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TABLES = ("payouts", "people", "pairings", "attendance", "districts", "grants", "contributions")


def copy_examples(tmp_path: Path, name: str = "data") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for table in TABLES:
        shutil.copy(EXAMPLES / f"{table}.csv", folder)
    return folder


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def keep_payouts(folder: Path, keep: Any) -> int:
    header, rows = read_csv(folder / "payouts.csv")
    kept = [row for row in rows if keep(dict(zip(header, row, strict=True)))]
    with (folder / "payouts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(kept)
    return len(kept)


# -- --period -----------------------------------------------------------------------------------
def test_a_month_is_judged_against_the_year_before_it(run_cli) -> None:
    result = run_cli("validate", EXAMPLES, "--period", "2026-06", "--format", "json", "--as-of", "2026-06-30")
    assert result.code == 1, result.err
    report = json.loads(result.out)
    summary = report["summary"]
    payouts = [record for record in report["records"] if record["table"] == "payouts"]
    june = [record for record in payouts if record["status"] != "history"]
    assert len(june) == 74 and summary["history"] == len(payouts) - 74
    assert all(record["findings"] == [] for record in payouts if record["status"] == "history")
    by_key = {record["key"]: record for record in payouts}
    # The history rows feed the duplicate and the cap: June's copies are held.
    assert by_key["P-0268"]["status"] == "history" and by_key["P-0089"]["status"] == "history"
    assert "STIPEND-006-INSTALLMENT" in [f["rule"] for f in by_key["P-0278"]["findings"]]
    cap = [f for f in by_key["P-0279"]["findings"] if f["rule"] == "NMP-005"]
    assert cap and cap[0]["excess"] == "500.00"
    assert summary["period"] == {"text": "2026-06", "start": "2026-06-01", "end": "2026-06-30"}
    assert summary["money"]["rows"]["checked"] == 74
    assert summary["money"]["rows"]["history"] == len(payouts) - 74
    assert summary["complete"] is True


def test_june_alone_is_incomplete_and_says_which_rules_cannot_see_the_year(run_cli, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    assert keep_payouts(folder, lambda row: row["pay_date"].startswith("2026-06")) == 74
    result = run_cli("validate", folder, "--period", "2026-06", "--format", "json")
    summary = json.loads(result.out)["summary"]
    assert summary["complete"] is False
    [year, everything] = summary["incomplete"]["history_missing"]
    assert year["from"] == "2025-07-01" and year["until"] == "2026-05-31"
    assert {"NMP-005", "NMP-009", "STIPEND-006-INSTALLMENT"} <= set(year["rules"])
    assert "payouts before 2026-06-01 of 2025-26 were not given" in year["why"]
    assert "STIPEND-006" in everything["rules"]
    text = run_cli("validate", folder, "--period", "2026-06").out
    first = text.splitlines()[0]
    assert first.startswith("INCOMPLETE: payouts before 2026-06-01 of 2025-26 were not given; NMP-005")


@pytest.mark.parametrize("period", ["2026-13", "June", "2026-06-30..2026-06-01", "2025-27"])
def test_a_period_that_is_none_is_a_usage_problem(run_cli, period: str) -> None:
    result = run_cli("validate", EXAMPLES, "--period", period)
    assert result.code == 2
    assert "MR413" in result.err and "Traceback" not in result.err


def test_a_school_year_period_and_a_range_of_days(run_cli) -> None:
    year = json.loads(run_cli("validate", EXAMPLES, "--period", "2025-26", "--format", "json").out)["summary"]
    days = json.loads(run_cli("validate", EXAMPLES, "--period", "2026-06-01..2026-06-30",
                              "--format", "json").out)["summary"]
    assert year["period"]["start"] == "2025-07-01" and year["period"]["end"] == "2026-06-30"
    assert days["money"]["rows"]["checked"] == 74
    assert year["money"]["rows"]["checked"] > days["money"]["rows"]["checked"]


# -- partial checks are loud ----------------------------------------------------------------------
def test_a_payouts_only_run_says_incomplete_first(run_cli) -> None:
    result = run_cli("validate", EXAMPLES / "payouts.csv")
    lines = result.out.splitlines()
    assert lines[0].startswith("INCOMPLETE: ") and " of " in lines[0] and "rules did not run" in lines[0]
    assert "tables not given: attendance, contributions, districts, grants, pairings, people" in lines[0]
    assert "pass the rules that ran (not a clean result)" in result.out
    assert "The payee is a known person" in result.out  # unrun rules by title
    report = json.loads(run_cli("validate", EXAMPLES / "payouts.csv", "--format", "json").out)
    assert report["summary"]["complete"] is False
    assert report["summary"]["incomplete"]["not_run"] == len(report["not_checked"])
    page = run_cli("validate", EXAMPLES / "payouts.csv", "--format", "html").out
    assert page.index('id="incomplete"') < page.index('id="summary"')


def test_a_full_run_is_complete(run_cli) -> None:
    report = json.loads(run_cli("validate", EXAMPLES, "--format", "json").out)
    assert report["summary"]["complete"] is True and "incomplete" not in report["summary"]
    assert not run_cli("validate", EXAMPLES).out.startswith("INCOMPLETE")


# -- --split --------------------------------------------------------------------------------------
def check_split(data: Path, out: Path, run_cli: Any, *extra: str) -> tuple[int, int]:
    result = run_cli("validate", data, "--split", out, "--format", "json", *extra)
    assert result.code in (0, 1), result.err
    records = [r for r in json.loads(result.out)["records"] if r["table"] == "payouts"]
    header, rows = read_csv(data / "payouts.csv")
    payable_header, payable = read_csv(out / "payable.csv")
    held_header, held = read_csv(out / "held.csv")
    assert payable_header == header and held_header == [*header, "rules", "messages"]
    assert len(payable) + len(held) == len(rows) == len(records)
    passing = [row for row, record in zip(rows, records, strict=True) if record["status"] == "pass"]
    assert payable == passing  # the same rows, cells as the file had them, in input order
    failing = [record for record in records if record["status"] != "pass"]
    assert [row[:len(header)] for row in held] == [row for row, r in zip(rows, records, strict=True)
                                                   if r["status"] != "pass"]
    for row, record in zip(held, failing, strict=True):
        errors = [f["rule"] for f in record["findings"] if f["severity"] == "error"]
        assert row[-2] == ";".join(dict.fromkeys(errors)) or (not errors and row[-2] == "")
    assert f"{len(payable)} payable, {len(held)} held" in result.err
    return len(payable), len(held)


def test_split_on_the_examples_holds_each_dollar_once(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "split"
    out.mkdir()
    payable, held = check_split(EXAMPLES, out, run_cli)
    assert (payable, held) == (317, 35)
    assert not list(out.glob(".*partial"))  # no temporary file left


def test_split_on_a_generated_set(run_cli, tmp_path: Path) -> None:
    data = generated_data(tmp_path / "gen", 3000, seed=7, violations=0.05)
    out = tmp_path / "split"
    out.mkdir()
    payable, held = check_split(data, out, run_cli)
    assert payable > 0 and held > 0


def test_split_of_a_both_copies_mistake_holds_only_the_later_copy(run_cli, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    header, rows = read_csv(folder / "payouts.csv")
    first = dict(zip(header, next(row for row in rows if row[0] == "P-0100"), strict=True))
    again = {**first, "payout_id": "P-9100", "pay_date": "2026-06-29"}
    with (folder / "payouts.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow([again[name] for name in header])
    out = tmp_path / "split"
    out.mkdir()
    check_split(folder, out, run_cli)
    _, held = read_csv(out / "held.csv")
    held_ids = [row[0] for row in held]
    assert "P-9100" in held_ids and held_ids.count("P-0100") <= 1
    before = tmp_path / "before"
    before.mkdir()
    check_split(EXAMPLES, before, run_cli)
    assert ("P-0100" in held_ids) == ("P-0100" in [row[0] for row in read_csv(before / "held.csv")[1]])


def test_split_of_a_workbook_writes_workbooks(run_cli, tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    folder = copy_examples(tmp_path)
    header, rows = read_csv(folder / "payouts.csv")
    book = Workbook()
    sheet = book.active
    sheet.title = "payouts"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(folder / "payouts.xlsx")
    (folder / "payouts.csv").unlink()
    out = tmp_path / "split"
    out.mkdir()
    result = run_cli("validate", folder, "--split", out)
    assert result.code == 1, result.err
    payable = list(load_workbook(out / "payable.xlsx")["payouts"].iter_rows(values_only=True))
    held = list(load_workbook(out / "held.xlsx")["payouts"].iter_rows(values_only=True))
    assert list(payable[0]) == header and list(held[0]) == [*header, "rules", "messages"]
    assert len(payable) - 1 + len(held) - 1 == len(rows)


def test_split_with_a_period_puts_history_apart(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "split"
    out.mkdir()
    result = run_cli("validate", EXAMPLES, "--period", "2026-06", "--split", out)
    _, payable = read_csv(out / "payable.csv")
    _, held = read_csv(out / "held.csv")
    _, history = read_csv(out / "history.csv")
    assert len(payable) + len(held) == 74
    assert len(payable) + len(held) + len(history) == len(read_csv(EXAMPLES / "payouts.csv")[1])
    assert f"{len(history)} history" in result.err


def test_split_needs_a_folder_and_a_csv_or_xlsx_payouts_file(run_cli, tmp_path: Path) -> None:
    result = run_cli("validate", EXAMPLES, "--split", tmp_path / "missing")
    assert result.code == 2 and "MR414" in result.err
    folder = tmp_path / "json"
    folder.mkdir()
    header, rows = read_csv(EXAMPLES / "payouts.csv")
    (folder / "payouts.json").write_text(json.dumps([dict(zip(header, row, strict=True)) for row in rows[:3]]),
                                         encoding="utf-8")
    result = run_cli("validate", folder, "--split", tmp_path)
    assert result.code == 2 and "MR414" in result.err and "Traceback" not in result.err


# -- words and trust ------------------------------------------------------------------------------
def test_output_says_what_it_wrote_and_what_the_exit_code_means(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = run_cli("validate", EXAMPLES, "--format", "json", "--output", target)
    assert result.code == 1
    assert f"wrote {target}" in result.err
    assert "exit 1: some rows fail or could not be read" in result.err
    assert json.loads(target.read_text("utf-8"))["summary"]["money"]["held"] == "23950.00"


def test_html_shows_the_run_and_the_tools_to_find_a_row(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    page = run_cli("validate", EXAMPLES, "--format", "html", "--as-of", "2026-06-30", "--period", "2026-06").out
    assert "<dt>run on</dt>" in page and "2026-05-28" in page
    assert "<dt>as of</dt>" in page and "2026-06-30" in page
    assert "<dt>period</dt>" in page and "<dt>input payouts</dt>" in page
    assert 'id="filter-search"' in page and 'class="sortable' in page
    assert "Prepared by" in page and "Reviewed by" in page
    assert page.index('id="money-held"') < page.index("<span>rows</span>")
    assert ">Chugach<" in page  # a group finding carries its district


def test_split_refuses_a_payouts_file_changed_since_the_run_and_leaves_nothing(tmp_path: Path) -> None:
    from mentorrules import Engine
    from mentorrules.errors import MentorRulesError
    from mentorrules.reports import split

    folder = copy_examples(tmp_path)
    report = Engine.load().validate(folder)
    with (folder / "payouts.csv").open("a", encoding="utf-8") as handle:
        handle.write("P-9999,T-0001,mentor,NM_PILOT,NM,Belen,2025-26,2026-06-01,,,1000.00,1,state,,,\n")
    out = tmp_path / "split"
    out.mkdir()
    (out / "payable.csv").write_text("the last run's file\n", encoding="utf-8")
    with pytest.raises(MentorRulesError) as raised:
        split.write(report, out)
    assert raised.value.problems[0].code == "MR414"
    assert sorted(path.name for path in out.iterdir()) == ["payable.csv"]  # no temporary file left
    assert (out / "payable.csv").read_text("utf-8") == "the last run's file\n"  # the last run's file is whole


def test_complete_refuses_a_month_without_its_history(run_cli, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    keep_payouts(folder, lambda row: row["pay_date"].startswith("2026-06"))
    result = run_cli("validate", folder, "--period", "2026-06", "--complete")
    assert result.code == 2 and "Traceback" not in result.err
    assert "MR309 payouts before 2026-06-01 of 2025-26 were not given" in result.err
    assert run_cli("validate", EXAMPLES, "--period", "2026-06", "--complete").code == 1  # history given
