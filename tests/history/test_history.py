"""The run history: what `validate --record` stores, `history` lists and `compare` tells.

Every test uses a real SQLite file in a temporary folder and the command line as a user runs it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult

from mentorrules.history import Comparison, History, changes, compare, views
from mentorrules.model import Decision, Finding, Report, Severity, Status

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AS_OF = "2026-06-30"

Run = Callable[..., CliResult]


def _copy(folder: Path) -> Path:
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.md", "*.py"))
    return folder


def _payouts(folder: Path) -> list[dict[str, str]]:
    with (folder / "payouts.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _write_payouts(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / "payouts.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _rows(path: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def _validate(run_cli: Run, data: Path, history: Path, *options: str) -> CliResult:
    return run_cli("validate", data, "--as-of", AS_OF, "--history", history, *options)


# -- what is stored -----------------------------------------------------------------------------
def test_a_recorded_run_stores_every_record_of_the_json_report(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    report = tmp_path / "report.json"
    done = _validate(run_cli, EXAMPLES, history, "--format", "json", "--output", report)
    assert done.code == 1, done.err
    assert "recorded run 1" in done.err
    expected = json.loads(report.read_text("utf-8"))
    stored = _rows(history, "SELECT table_name, row, key, status, rules, messages FROM records "
                            "WHERE run_id = 1 ORDER BY position")
    # The history and the JSON report agree record for record, findings and messages alike.
    assert [(table, row, key, status, json.loads(rules), json.loads(messages))
            for table, row, key, status, rules, messages in stored] == [
        (record["table"], record["row"], record["key"], record["status"],
         [finding["rule"] for finding in record["findings"]], [finding["message"] for finding in record["findings"]])
        for record in expected["records"]]
    (summary, digest, as_of, packs), = _rows(history, "SELECT summary, digest, as_of, packs FROM runs")
    assert json.loads(summary) == expected["summary"]
    assert digest == expected["digest"] and as_of == AS_OF
    assert json.loads(packs) == [[pack["name"], pack["version"]] for pack in expected["packs"]]


def test_inputs_are_stored_with_their_sha256_and_amounts_as_exact_text(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    data = _copy(tmp_path / "data")
    rows = _payouts(data)
    rows[0]["amount"] = "1000.1"  # written with one decimal: stored as written, not as 1000.10
    _write_payouts(data, rows)
    _validate(run_cli, data, history)
    inputs = dict(_rows(history, "SELECT table_name, sha256 FROM inputs WHERE run_id = 1"))
    assert inputs["payouts"] == hashlib.sha256((data / "payouts.csv").read_bytes()).hexdigest()
    assert set(inputs) == {path.stem for path in data.glob("*.csv")}
    amounts = _rows(history, "SELECT amount FROM records WHERE run_id = 1 AND table_name = 'payouts' "
                             "ORDER BY position")
    assert [amount for amount, in amounts] == [row["amount"] for row in rows]


def test_masking_applies_to_what_is_stored(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    report = tmp_path / "report.json"
    _validate(run_cli, EXAMPLES, history, "--mask", "amount,payee_id", "--format", "json", "--output", report)
    stored = _rows(history, "SELECT key, amount, messages FROM records WHERE table_name = 'payouts'")
    assert {amount for _, amount, _ in stored} == {"[masked]"}
    texts = " ".join(messages for _, _, messages in stored)
    assert "450.00" not in texts and "T-9014" not in texts  # P-0009's amount, P-0051's unknown payee
    expected = json.loads(report.read_text("utf-8"))
    assert [json.loads(messages) for _, _, messages in stored] == [
        [finding["message"] for finding in record["findings"]]
        for record in expected["records"] if record["table"] == "payouts"]
    assert json.loads(_rows(history, "SELECT masked FROM runs")[0][0]) == ["amount", "payee_id"]


# -- when a run is recorded ---------------------------------------------------------------------
def test_a_history_in_the_working_folder_is_used_by_default(run_cli: Run, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / ".mentorrules" / "history.sqlite"
    assert run_cli("validate", EXAMPLES, "--as-of", AS_OF).code == 1
    assert not store.exists()  # no history configured, no --record: nothing is recorded
    assert run_cli("validate", EXAMPLES, "--as-of", AS_OF, "--record").code == 1
    assert run_cli("validate", EXAMPLES, "--as-of", AS_OF).code == 1  # now configured: recorded
    assert run_cli("validate", EXAMPLES, "--as-of", AS_OF, "--no-record").code == 1
    assert [run_id for run_id, in _rows(store, "SELECT id FROM runs")] == [1, 2]
    listed = run_cli("history")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert lines[0].split()[:2] == ["run", "when"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert "payouts.csv" in lines[1] and " 997 " in lines[1] and " 66 " in lines[1]


def test_history_as_json(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    _validate(run_cli, EXAMPLES, history)
    listed = run_cli("history", "--history", history, "--format", "json")
    assert listed.code == 0
    (run,) = json.loads(listed.out)["runs"]
    assert run["id"] == 1 and run["as_of"] == AS_OF and run["summary"]["rows"] == 997
    assert run["recorded"].endswith("Z")
    assert {item["table"] for item in run["inputs"]} >= {"payouts", "people"}


# -- compare ------------------------------------------------------------------------------------
def _two_months(run_cli: Run, tmp_path: Path) -> tuple[Path, Path, CliResult]:
    """Run 1 on the examples; run 2 on a copy with P-0009 fixed and P-0002 broken (role 'coach')."""
    history = tmp_path / "history.sqlite"
    data = _copy(tmp_path / "data")
    assert _validate(run_cli, data, history).code == 1
    rows = _payouts(data)
    by_id = {row["payout_id"]: row for row in rows}
    assert by_id["P-0009"]["amount"] == "450.00"
    by_id["P-0009"]["amount"] = "500.00"  # the written schedule's amount: STIPEND-005 holds
    by_id["P-0002"]["role"] = "coach"
    _write_payouts(data, rows)
    second = _validate(run_cli, data, history)
    return history, data, second


def test_validate_states_what_changed_since_the_last_run(run_cli: Run, tmp_path: Path) -> None:
    _, _, second = _two_months(run_cli, tmp_path)
    assert second.code == 1
    footer = second.out.rstrip().splitlines()[-1]
    assert footer.startswith("since the last run on ") and "(run 1)" in footer
    assert "1 new failure, 1 fixed, 68 still failing" in footer


def test_compare_names_new_failures_fixed_rows_and_the_money(run_cli: Run, tmp_path: Path) -> None:
    history, data, _ = _two_months(run_cli, tmp_path)
    done = run_cli("compare", "--since", "last", "--history", history, "--format", "json")
    assert done.code == 1, done.err  # new failures
    found = json.loads(done.out)
    assert [(change["key"], change["after"]["rules"]) for change in found["new"]] == [("P-0002", ["STIPEND-001"])]
    assert [(change["key"], change["before"]["rules"], change["after"]["status"]) for change in found["fixed"]] \
        == [("P-0009", ["STIPEND-005"], "pass")]
    assert found["counts"] == {"new": 1, "fixed": 1, "still": 68, "gone": 0}
    amount = Decimal(next(row["amount"] for row in _payouts(data) if row["payout_id"] == "P-0002"))
    assert found["money"]["new"] == str(amount) and found["money"]["fixed"] == "500.00"
    # Held money of each run, computed here from a JSON report (not recorded) and the CSV's amounts.
    for run_id, side, folder in ((1, "before", EXAMPLES), (2, "after", data)):
        assert found[side]["id"] == run_id
        report = json.loads(run_cli("validate", folder, "--as-of", AS_OF, "--no-record", "--format", "json").out)
        statuses = [record["status"] for record in report["records"] if record["table"] == "payouts"]
        held = sum((Decimal(row["amount"]) for row, status in zip(_payouts(folder), statuses, strict=True)
                    if status in ("fail", "unreadable")), Decimal(0))
        assert Decimal(found["money"][f"held_{side}"]) == held > 0
    assert Decimal(found["money"]["held_change"]) == Decimal(found["money"]["held_after"]) - Decimal(
        found["money"]["held_before"]) == amount - Decimal("450.00")  # P-0009 was held at 450.00
    same = run_cli("compare", "1", "2", "--history", history, "--format", "json")
    assert json.loads(same.out) == found


def test_compare_as_text_and_html(run_cli: Run, tmp_path: Path) -> None:
    history, _, _ = _two_months(run_cli, tmp_path)
    text = run_cli("compare", "1", "2", "--history", history)
    assert text.code == 1
    assert "1 new failures, 1 fixed, 68 still failing" in text.out
    new = text.out.split("New failures (1)\n")[1]
    assert new.splitlines()[0].split()[:4] == ["payouts", "row", "2", "P-0002"]
    assert "STIPEND-001" in new.splitlines()[1]
    page = run_cli("compare", "1", "2", "--history", history, "--format", "html")
    assert page.code == 1 and page.out.startswith("<!DOCTYPE html>")
    assert "<h2>New failures (1)</h2>" in page.out and "P-0009" in page.out.split("<h2>Fixed (1)</h2>")[1]
    back = run_cli("compare", "2", "1", "--history", history)  # the other way round: P-0009 newly fails
    assert "New failures (1)\n  payouts row 9  P-0009" in back.out


def test_repeated_keys_are_matched_by_occurrence(run_cli: Run, tmp_path: Path) -> None:
    history, _, _ = _two_months(run_cli, tmp_path)
    found = json.loads(run_cli("compare", "1", "2", "--history", history, "--format", "json").out)
    twice = [(change["occurrence"], change["before"]["row"], change["after"]["row"])
             for change in found["still"] if change["key"] == "P-0097"]
    assert twice == [(2, 98, 98)]  # hold: later holds the second copy only; the first passes (with a note)


def test_the_last_run_of_other_inputs_is_not_compared(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    _validate(run_cli, EXAMPLES, history)
    other = _validate(run_cli, EXAMPLES / "payouts.csv", history)  # other inputs: no "since" line
    assert "since the last run" not in other.out + other.err
    done = run_cli("compare", "--since", "last", "--history", history)
    assert done.code == 2
    assert "MR442 run 2 is the first recorded run of its inputs (payouts.csv)" in done.err


# -- problems -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "said"), [
    (None, "MR440 there is no run history here"),
    (b"not a database at all" * 100, "MR440 the run history cannot be read"),
    (b"", "MR440 this file is not a mentorrules run history"),
])
def test_a_missing_or_damaged_history_is_a_clear_problem(run_cli: Run, tmp_path: Path, content: bytes | None,
                                                          said: str) -> None:
    history = tmp_path / "history.sqlite"
    if content is not None:
        history.write_bytes(content)
    for done in (run_cli("history", "--history", history), run_cli("compare", "1", "2", "--history", history)):
        assert done.code == 2 and said in done.err and "Traceback" not in done.err, done.err
        assert done.out == ""


def test_validate_refuses_a_damaged_history_before_the_run(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    done = _validate(run_cli, EXAMPLES, history)
    assert done.code == 2 and "MR440" in done.err and "Traceback" not in done.err
    assert done.out == ""  # said before the report, not after a long run
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE payroll (id)")
    other.close()
    done = _validate(run_cli, EXAMPLES, tmp_path / "other.sqlite")
    assert done.code == 2 and "MR440 this file is not a mentorrules run history" in done.err
    missing = _validate(run_cli, EXAMPLES, tmp_path / "no" / "such" / "history.sqlite")
    assert missing.code == 2 and "MR441 cannot make the run history: its folder does not exist" in missing.err


def test_a_history_of_a_newer_schema_is_refused(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    _validate(run_cli, EXAMPLES, history)
    connection = sqlite3.connect(history)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    done = run_cli("history", "--history", history)
    assert done.code == 2 and "MR440 the run history was written by a newer mentorrules (schema 99" in done.err


def test_compare_usage_and_unknown_runs(run_cli: Run, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    _validate(run_cli, EXAMPLES, history)
    assert "MR443" in run_cli("compare", "1", "--history", history).err
    assert "MR443" in run_cli("compare", "1", "2", "--since", "last", "--history", history).err
    unknown = run_cli("compare", "1", "7", "--history", history)
    assert unknown.code == 2 and "MR442 there is no run 7 in the history" in unknown.err
    assert "runs are numbered 1 to 1" in unknown.err


def test_the_store_is_wal_and_versioned(tmp_path: Path) -> None:
    with History.open(tmp_path / "history.sqlite", create=True):
        pass
    assert _rows(tmp_path / "history.sqlite", "PRAGMA journal_mode") == [("wal",)]
    assert _rows(tmp_path / "history.sqlite", "PRAGMA user_version") == [(1,)]


def test_comparing_in_sqlite_agrees_with_comparing_every_record(run_cli: Run, tmp_path: Path) -> None:
    """`compare` reads only failing rows (a join in SQLite); comparing every record of both runs
    in Python gives the same comparison, byte for byte, both ways round."""
    history, _, _ = _two_months(run_cli, tmp_path)
    with History.open(history) as store:
        for before, after in ((1, 2), (2, 1)):
            fast = compare(store, before, after)
            full = Comparison(fast.before, fast.after, changes(store.records(before), store.records(after)))
            assert json.dumps(fast.to_dict()) == json.dumps(full.to_dict())
            assert len(fast.changes.new) == len(fast.changes.fixed) == 1


def test_the_readme_history_commands_run_as_written(run_cli: Run, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The quick start's "What changed since last month" commands, after two recorded months."""
    section = (ROOT / "README.md").read_text("utf-8").split("**What changed since last month.**")[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    history, data, _ = _two_months(run_cli, tmp_path)
    (tmp_path / ".mentorrules").mkdir()
    history.rename(tmp_path / ".mentorrules" / "history.sqlite")  # the default store of the working folder
    for _ in range(2):  # runs 3 and 4, recorded there without --record
        assert "recorded run" in run_cli("validate", data, "--as-of", AS_OF).err
    commands = [line.split("#")[0].split(">")[0].split() for line in block.splitlines() if line.strip()]
    assert [words[:2] for words in commands] == [["mentorrules", "history"]] + [["mentorrules", "compare"]] * 3
    for words in commands:
        done = run_cli(*words[1:])
        assert done.code in (0, 1) and done.err == "", (words, done.err)
        assert done.out


def test_keys_with_escape_sequences_are_stored_and_never_printed_raw(run_cli: Run, tmp_path: Path) -> None:
    """A payout id holding terminal escape sequences (which could clear the screen and print a
    fake result) is recorded, matched from run to run, and shown escaped."""
    history = tmp_path / "history.sqlite"
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"payout_id": "P-\x1b]0;x\x07\x1b[2J", "payee_id": "T-1", "role": "coach", "program": "X",
             "state": "XX", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00"}]
    (data / "payouts.json").write_text(json.dumps(rows), encoding="utf-8")
    (data / "people.json").write_text(json.dumps([{"person_id": "T-1", "career_year": 1}]), encoding="utf-8")
    for _ in range(2):
        done = run_cli("validate", data, "--as-of", AS_OF, "--history", history, "--format", "json",
                       "--output", tmp_path / "report.json")
        assert done.code == 1 and "Traceback" not in done.err, done.err
    for kind in ("table", "html"):
        shown = run_cli("compare", "1", "2", "--history", history, "--format", kind)
        assert shown.code == 0, shown.err
        assert "\x1b" not in shown.out and "\x07" not in shown.out
        assert "P-\\x1b]0;x\\x07\\x1b[2J" in shown.out
    found = json.loads(run_cli("compare", "1", "2", "--history", history, "--format", "json").out)
    assert found["counts"]["still"] == 1 and found["money"]["held_after"] == "1000.00"


def test_a_lone_surrogate_is_stored_and_matched(tmp_path: Path) -> None:
    """A key or message with a lone surrogate (possible from JSON input) is stored as text SQLite
    accepts, the same way every run, so that it still matches itself."""
    finding = Finding("STIPEND-001", Severity.ERROR, "role \ud800 is not eligible")
    report = Report("0.1.0", (("core", "0.1.0"),), "sha256:0",
                    (Decision("payouts", 1, "P-\ud800", Status.FAIL, (finding,)),))
    with History.open(tmp_path / "history.sqlite", create=True) as store:
        for _ in range(2):
            store.record(report, {"payouts": ["12.50"]}, dt.date(2026, 6, 30))
        found = compare(store, 1, 2)
        buffer = io.StringIO()
        views.write_text(found, buffer)
    assert [change.key for change in found.changes.still] == ["P-\\ud800"]
    assert "P-\\ud800" in buffer.getvalue() and "role \\ud800 is not eligible" in buffer.getvalue()


def test_a_history_folder_that_cannot_be_made_is_a_clear_problem(run_cli: Run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".mentorrules").write_text("a file where the folder should be", encoding="utf-8")
    done = run_cli("validate", EXAMPLES, "--as-of", AS_OF, "--record")
    assert done.code == 2 and "MR441" in done.err and "Traceback" not in done.err, done.err
