"""Small fixtures shared by the suite: a loaded engine, rule files in a temporary directory,
and the command line run in-process (fast) or as a subprocess (end to end)."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from mentorrules import Engine
from mentorrules.cli import main

EXECUTABLE = Path(sys.executable).with_name("mentorrules")
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
# atheris is optional and its target fuzzes at import: `make fuzz` runs it, pytest does not import it.
collect_ignore = ["properties/atheris_fuzz.py"]

# A payout that every core rule accepts (state XX: no state pack applies), and its payee.
GOOD_PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "X",
               "state": "XX", "school_year": "2025-26", "pay_date": "2025-09-15",
               "amount": "1000.00"}
PAYOUT_COLUMNS = tuple(GOOD_PAYOUT)


@dataclass(frozen=True)
class CliResult:
    """What a user sees after running the command: exit code and the two streams."""

    code: int
    out: str
    err: str


@pytest.fixture(scope="session")
def engine() -> Engine:
    """Every installed pack, loaded once for the session (an Engine is immutable)."""
    return Engine.load()


@pytest.fixture(scope="session")
def core_engine() -> Engine:
    """Only the core pack, so that state packs being edited do not change results."""
    return Engine.load(packs=[])


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[..., Path]:
    """Write a rule (or parameter) file into a fresh directory and return its path."""

    def write(text: str, name: str = "rules.yaml", directory: str = "rules") -> Path:
        folder = tmp_path / directory
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """Run ``mentorrules ARGS`` in-process, capturing stdout, stderr and the exit code."""

    def run(*args: str | Path) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as exit_:  # argparse: --help, usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
        result = CliResult(code, out.getvalue(), err.getvalue())
        check_contract([str(arg) for arg in args], result, Path.cwd())
        return result

    return run


@functools.cache
def contract_validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of ``schemas/<name>.schema.json`` (report, decision)."""
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_contract(name: str, document: object) -> None:
    """``document`` follows ``schemas/<name>.schema.json``; else the first difference is shown."""
    errors = sorted(contract_validator(name).iter_errors(document), key=lambda error: list(error.path))
    assert not errors, f"not a {name} of the contract: {errors[0].message} at {list(errors[0].path)}"


def check_contract(args: list[str], result: CliResult, cwd: Path) -> None:
    """Every JSON report (``validate --format json``) and every decision (``explain --format
    json``, one per line) that the suite's command runs write follows its schema."""
    if not args or args[0] not in ("validate", "explain") or result.code not in (0, 1):
        return
    if "--format" not in args or args[args.index("--format") + 1] != "json":
        return
    text = result.out
    if "--output" in args:
        path = Path(args[args.index("--output") + 1])
        text = (path if path.is_absolute() else cwd / path).read_text("utf-8")
    if args[0] == "validate":
        assert_contract("report", json.loads(text))
    else:
        for line in text.splitlines():
            assert_contract("decision", json.loads(line))


@pytest.fixture
def run_command(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the installed ``mentorrules`` executable as a separate process."""

    def run(*args: str | Path) -> CliResult:
        environment = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}
        done = subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, env=environment, timeout=60, check=False)
        result = CliResult(done.returncode, done.stdout, done.stderr)
        check_contract([str(arg) for arg in args], result, tmp_path)
        return result

    return run


def csv_text(rows: list[dict[str, str]], columns: tuple[str, ...] = PAYOUT_COLUMNS,
             newline: str = "\n") -> str:
    """Rows as CSV text, quoted where needed, with the given line ends."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator=newline)
    writer.writerow(columns)
    writer.writerows([row.get(name, "") for name in columns] for row in rows)
    return stream.getvalue()


def payout(**changes: str) -> dict[str, str]:
    """A good payout with some cells changed."""
    return {**GOOD_PAYOUT, **changes}


def report_payout(payout_id: str, **changes: str) -> dict[str, str]:
    """A payout for report tests, by id, with some cells changed."""
    row = {"payout_id": payout_id, "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
           "district": "Gallup", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00"}
    return {**row, **changes}


def generated_data(folder: Path, payouts: int, seed: int, violations: float = 0.05) -> Path:
    """A data set made by ``bench/generate.py`` in ``folder``: payouts with their related tables."""
    generator = Path(__file__).resolve().parents[1] / "bench" / "generate.py"
    subprocess.run([sys.executable, str(generator), "--payouts", str(payouts),
                    "--seed", str(seed), "--violations", str(violations), "--out", str(folder)],
                   check=True, capture_output=True, timeout=120)
    return folder
