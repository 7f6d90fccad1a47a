"""The JSON report is a contract other systems read: exact keys, 1-based rows per table, a
digest of the rules in force, and byte-identical output for identical inputs."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from conftest import csv_text, payout

from mentorrules import __version__

LOCAL_RULES = """\
rules:
  - id: LOCAL-001
    title: Small payouts are noted
    table: payouts
    require: payout.amount >= 100
    severity: info
    message: "amount {payout.amount} is small"
    source: {title: Local policy, section: "1.2", url: "https://example.org/policy"}
  - id: LOCAL-002
    title: Large payouts are reviewed
    table: payouts
    require: payout.amount <= 5000
    severity: warning
    message: "amount {payout.amount} needs review"
    source: {title: Local policy}
"""


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [payout(payout_id="P-1"),
            payout(payout_id="P-2", role="coach"),
            payout(payout_id="P-3", amount="1,200"),
            payout(payout_id="P-4", amount="50.00"),
            payout(payout_id="=HYPERLINK(\"http://x\")", amount="6000.00")]
    (folder / "payouts.csv").write_text(csv_text(rows), encoding="utf-8")
    (folder / "people.csv").write_text("person_id\nT-1\nT-2\n", encoding="utf-8")
    return folder


@pytest.fixture
def local_rules(tmp_path: Path) -> Path:
    path = tmp_path / "local.yaml"
    path.write_text(LOCAL_RULES, encoding="utf-8")
    return path


@pytest.fixture
def validate(run_cli, dataset: Path, local_rules: Path):
    def run(*extra: str) -> tuple[int, str]:
        result = run_cli("validate", dataset, "--pack", "core", "--rules", local_rules,
                         "--as-of", "2025-09-01", *extra)
        assert "Traceback" not in result.err
        return result.code, result.out

    return run


def test_report_has_exactly_the_documented_keys(validate) -> None:
    code, out = validate("--format", "json")
    assert code == 1
    report = json.loads(out)
    # Only payouts and people are given: the rules that read other tables are listed, not run.
    assert list(report) == ["format", "mentorrules", "packs", "digest", "summary", "not_checked", "illustrative",
                            "records"]
    assert report["format"] == "1.0"
    # The illustrative values the rules run read: installments_per_year (STIPEND-007) among them.
    assert {"pack": "core", "parameter": "installments_per_year", "values": {"2016-07-01": "2"}} \
        in report["illustrative"]
    assert {"rule": "PAIRING-001", "tables": ["pairings"]} in report["not_checked"]
    assert all(list(item) == ["rule", "tables"] and item["tables"] for item in report["not_checked"])
    assert report["mentorrules"] == __version__
    assert report["packs"] == [{"name": "core", "version": __version__},
                               {"name": "local", "version": "0"}]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", report["digest"])
    assert list(report["summary"]) == ["rows", "pass", "fail", "unreadable", "findings", "money", "complete",
                                       "incomplete"]
    assert list(report["summary"]["findings"]) == ["error", "warning", "info"]
    assert list(report["summary"]["money"]) == ["checked", "payable", "held", "warnings_only", "history", "rows",
                                                "held_by", "held_with", "gaps"]
    assert list(report["summary"]["money"]["held_by"]) == ["rule", "district", "program", "grant", "school_year"]
    assert report["summary"]["complete"] is False  # pairings and other tables were not given
    assert list(report["summary"]["incomplete"]) == ["rules", "not_run", "tables_not_given", "history_missing",
                                                     "reasons"]
    for record in report["records"]:
        # An unreadable row says, cell by cell, why (``problems``); other rows have no such key.
        unreadable = record["status"] == "unreadable"
        keys = ["table", "row", "line", "key", "status", "findings"] + (["problems"] if unreadable else [])
        assert list(record) == keys
        assert record["line"] == record["row"] + 1  # a CSV file: the header is line 1
        assert record["status"] in ("pass", "fail", "unreadable")
        for finding in record["findings"]:
            assert list(finding)[:4] == ["rule", "severity", "message", "source"]
            assert set(finding) <= {"rule", "severity", "message", "source", "parameters", "rows", "excess",
                                    "shortfall", "district", "check"}
            assert finding["severity"] in ("error", "warning", "info")


def test_records_are_in_input_order_with_1_based_rows_per_table(validate) -> None:
    report = json.loads(validate("--format", "json")[1])
    assert [(r["table"], r["row"], r["key"]) for r in report["records"]] == [
        ("payouts", 1, "P-1"), ("payouts", 2, "P-2"), ("payouts", 3, "P-3"), ("payouts", 4, "P-4"),
        ("payouts", 5, '=HYPERLINK("http://x")'), ("people", 1, "T-1"), ("people", 2, "T-2")]


def test_statuses_and_findings_say_what_happened(validate) -> None:
    records = {r["key"]: r for r in json.loads(validate("--format", "json")[1])["records"]}
    assert records["P-1"]["status"] == "pass"
    assert records["P-1"]["findings"] == []
    assert records["P-2"]["status"] == "fail"
    assert "STIPEND-001" in [f["rule"] for f in records["P-2"]["findings"]]
    assert records["P-3"]["status"] == "unreadable"
    assert [f["rule"] for f in records["P-3"]["findings"]] == ["MR310"]
    assert records["P-3"]["problems"] == [{"column": "amount", "value": "1,200", "code": "MR310",
                                           "problem": records["P-3"]["findings"][0]["message"]}]
    small = [f for f in records["P-4"]["findings"] if f["rule"] == "LOCAL-001"]
    assert small == [{"rule": "LOCAL-001", "severity": "info", "message": "amount 50.00 is small",
                      "source": {"title": "Local policy", "section": "1.2",
                                 "url": "https://example.org/policy"}}]
    large = [f for f in records['=HYPERLINK("http://x")']["findings"] if f["rule"] == "LOCAL-002"]
    assert large == [{"rule": "LOCAL-002", "severity": "warning",
                      "message": "amount 6000.00 needs review", "source": {"title": "Local policy"}}]


def test_summary_counts_rows_and_findings(validate) -> None:
    report = json.loads(validate("--format", "json")[1])
    records, summary = report["records"], report["summary"]
    assert summary["rows"] == len(records) == 7
    for status in ("pass", "fail", "unreadable"):
        assert summary[status] == sum(1 for r in records if r["status"] == status)
    for severity in ("error", "warning", "info"):
        assert summary["findings"][severity] == sum(
            1 for r in records for f in r["findings"] if f["severity"] == severity)


def test_two_runs_give_byte_identical_json(validate) -> None:
    assert validate("--format", "json") == validate("--format", "json")


def test_the_digest_changes_when_a_rule_changes(validate, local_rules: Path) -> None:
    before = json.loads(validate("--format", "json")[1])["digest"]
    local_rules.write_text(LOCAL_RULES.replace(">= 100", ">= 101"), encoding="utf-8")
    after = json.loads(validate("--format", "json")[1])["digest"]
    assert before != after


def test_the_digest_ignores_where_the_rules_are(validate, local_rules: Path, run_cli,
                                               dataset: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / local_rules.name).write_text(local_rules.read_text("utf-8"), encoding="utf-8")
    here = json.loads(validate("--format", "json")[1])["digest"]
    there = run_cli("validate", dataset, "--pack", "core", "--rules", moved / local_rules.name,
                    "--as-of", "2025-09-01", "--format", "json")
    assert json.loads(there.out)["digest"] == here


def test_output_file_holds_the_same_report(validate, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out = validate("--format", "json", "--output", str(target))
    assert (code, out) == (1, "")
    assert target.read_text("utf-8") == validate("--format", "json")[1]


def test_csv_report_has_one_line_per_input_row(validate) -> None:
    code, out = validate("--format", "csv")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 1 + 7
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["table"], row["row"], row["status"]) for row in rows] == [
        ("payouts", "1", "pass"), ("payouts", "2", "fail"), ("payouts", "3", "unreadable"),
        ("payouts", "4", "pass"), ("payouts", "5", "pass"), ("people", "1", "pass"),
        ("people", "2", "pass")]


def test_csv_report_neutralises_formulas(validate) -> None:
    rows = list(csv.DictReader(io.StringIO(validate("--format", "csv")[1])))
    assert rows[4]["key"] == "'=HYPERLINK(\"http://x\")"
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_two_runs_give_byte_identical_csv(validate) -> None:
    assert validate("--format", "csv") == validate("--format", "csv")


def test_json_report_of_the_library_matches_the_cli(validate, core_engine, dataset: Path) -> None:
    report = json.loads(validate("--format", "json")[1])
    library = core_engine.validate(dataset).to_dict()
    assert [r["key"] for r in library["records"]] == [r["key"] for r in report["records"]]


# -- the contract's versioned documents (schemas/, docs/contract.md) ----------------------------------
def test_explain_as_json_is_one_decision_document_per_row_with_its_trace(run_cli, dataset: Path,
                                                                        local_rules: Path) -> None:
    from conftest import assert_contract

    result = run_cli("explain", dataset, "--record", "payouts:P-4", "--pack", "core", "--rules", local_rules,
                     "--as-of", "2025-09-01", "--format", "json")
    assert result.code == 0, result.err  # an info finding does not fail the row
    [line] = result.out.splitlines()
    document = json.loads(line)
    assert_contract("decision", document)
    assert (document["format"], document["key"], document["status"]) == ("1.0", "P-4", "pass")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", document["digest"])
    steps = {step["rule"]: step for step in document["trace"]}
    assert steps["LOCAL-001"]["outcome"] == "fails" and steps["LOCAL-001"]["finding"]["severity"] == "info"
    assert {"expression": "payout.amount", "value": "50.00"} in steps["LOCAL-001"]["steps"]
    assert steps["LOCAL-002"]["outcome"] == "holds" and steps["LOCAL-002"]["finding"] is None
    unchecked = [step for step in document["trace"] if step["outcome"] == "not checked"]
    assert unchecked and all(step["not_given"] and step["finding"] is None and "steps" not in step
                             for step in unchecked)


def test_a_decision_of_evaluate_has_a_trace_and_one_of_a_report_says_it_has_none(core_engine) -> None:
    import datetime as dt

    from conftest import GOOD_PAYOUT, assert_contract

    from mentorrules import MentorRulesError

    decision = core_engine.evaluate({**GOOD_PAYOUT, "amount": "0.00"}, related={"people": [{"person_id": "T-1"}]})
    document = decision.document(core_engine.digest, __version__, trace=decision.trace())
    assert_contract("decision", document)
    fails = {step["rule"]: step["severity"] for step in document["trace"] if step["outcome"] == "fails"}
    assert fails == {"STIPEND-002": "error", "STIPEND-005-BAND": "warning"}
    # The trace is the one `explain` gives for the same row in the same world (every table given).
    world = {**{name: [] for name in core_engine.tables},
             "payouts": [{**GOOD_PAYOUT, "amount": "0.00"}], "people": [{"person_id": "T-1"}]}
    explained = core_engine.explain(world, "payouts", "P-1")
    from mentorrules.checking.tracing import trace_of

    assert document["trace"] == trace_of(explained[0][1])
    report = core_engine.validate({"payouts": [GOOD_PAYOUT]}, as_of=dt.date(2025, 9, 15))
    with pytest.raises(MentorRulesError) as raised:
        report.records[0].trace()
    assert raised.value.problems[0].code == "MR430"
