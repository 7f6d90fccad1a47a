"""The same inputs and packs give byte-identical reports: across runs, and across hash seeds.

Each data set is checked by ``mentorrules validate`` in separate processes, all started at once
(so that they also run while the machine is loaded), with ``PYTHONHASHSEED`` 0, 1, 12345 and
``random``: set iteration order, dict order built from sets, and anything else seeded per
process would show as a difference in the bytes of the JSON or CSV report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import generated_data

from mentorrules import Engine

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 1, 1)
SEEDS = ("0", "1", "12345", "random")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 generated payouts (with people, pairings, attendance, ...), 5% of them with a defect."""
    return generated_data(tmp_path_factory.mktemp("generated"), payouts=5000, seed=11)


def reports(data: Path, kind: str, seeds: tuple[str, ...]) -> dict[str, bytes]:
    """The report of ``data`` in format ``kind`` made under each hash seed, by processes run at once."""
    running = {}
    for seed in seeds:
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        running[seed] = subprocess.Popen(
            [sys.executable, "-m", "mentorrules", "validate", str(data), "--format", kind, "--as-of", "2026-01-01"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
    outputs = {}
    for seed, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 1, err.decode()
        assert err == b""
        outputs[seed] = out
    return outputs


@pytest.mark.parametrize("data", ["examples", "generated"], ids=["the example data set",
                                                                  "5,000 generated payouts with 5% defects"])
@pytest.mark.parametrize("kind", ["json", "csv"])
def test_reports_are_byte_identical_whatever_the_hash_seed(data: str, kind: str,
                                                           request: pytest.FixtureRequest) -> None:
    folder = ROOT / "examples" if data == "examples" else request.getfixturevalue("generated")
    outputs = reports(folder, kind, SEEDS)
    first = outputs[SEEDS[0]]
    assert {seed: output == first for seed, output in outputs.items()} == dict.fromkeys(SEEDS, True)
    # The comparison means something: the report has rows that fail, with findings of batch rules.
    if kind == "json":
        report = json.loads(first)
        assert report["summary"]["fail"] > 0
        rules = {finding["rule"] for record in report["records"] for finding in record["findings"]}
        assert len(rules) >= 5
    else:
        lines = list(csv.DictReader(io.StringIO(first.decode())))
        assert sum(line["status"] == "fail" for line in lines) > 0


def test_one_engine_gives_the_same_report_twice_and_a_second_engine_the_same_again(generated: Path) -> None:
    first = Engine.load()
    report = json.dumps(first.validate(generated, as_of=AS_OF).to_dict())
    assert json.dumps(first.validate(generated, as_of=AS_OF).to_dict()) == report
    second = Engine.load()
    assert second.digest == first.digest
    assert json.dumps(second.validate(generated, as_of=AS_OF).to_dict()) == report
