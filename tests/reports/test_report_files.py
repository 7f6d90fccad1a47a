"""Report files are written whole or not at all: signals, concurrent writers, read-only targets,
a full disk. Run for real, as separate processes, on data generated at test time."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXECUTABLE, generated_data

OLD = '{"old": "report"}\n'


def _start(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(EXECUTABLE), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _temporary_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".partial"))


def _interrupt_while_writing(folder: Path, data: Path, report: str, signum: int) -> tuple[int, str]:
    """Start a run writing ``report``, send ``signum`` once its temporary file exists."""
    target = folder / report
    process = _start("validate", data, "--format", "json" if report.endswith(".json") else "xlsx",
                     "--output", target, cwd=folder)
    deadline = time.monotonic() + 120
    while not _temporary_files(folder) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before the report was being written: give it more rows"
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def _signal_case(tmp_path: Path, payouts: int, signum: int, report: str) -> None:
    data = generated_data(tmp_path / "data", payouts, seed=7)
    out = tmp_path / "out"
    out.mkdir()
    (out / report).write_text(OLD)
    code, err = _interrupt_while_writing(out, data, report, signum)
    assert code == 128 + signum, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert (out / report).read_text() == OLD  # the previous report is kept whole
    assert _temporary_files(out) == []  # and nothing half-written is left behind


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("report", ["report.json", "report.xlsx"])
def test_a_signal_while_writing_keeps_the_old_report(tmp_path: Path, signum: int, report: str) -> None:
    _signal_case(tmp_path, 20_000, signum, report)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_writing_200k_rows_keeps_the_old_report(tmp_path: Path, signum: int) -> None:
    _signal_case(tmp_path, 200_000, signum, "report.json")


def _concurrent_case(tmp_path: Path, payouts: int, report: str, writers: int = 4) -> None:
    data = generated_data(tmp_path / "data", payouts, seed=11)
    out = tmp_path / "out"
    out.mkdir()
    kind = "json" if report.endswith(".json") else "xlsx"
    processes = [_start("validate", data, "--format", kind, "--output", out / report, cwd=out)
                 for _ in range(writers)]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 1, err  # the generated data has findings
        assert "Traceback" not in err
    assert _temporary_files(out) == []
    if kind == "json":
        written = json.loads((out / report).read_text(encoding="utf-8"))  # one whole report
        assert written["summary"]["rows"] >= payouts
        assert "\x00" not in (out / report).read_text(encoding="utf-8")
    else:
        with zipfile.ZipFile(out / report) as book:
            assert book.testzip() is None


@pytest.mark.parametrize("report", ["report.json", "report.xlsx"])
def test_concurrent_writers_of_one_report_leave_one_whole_report(tmp_path: Path, report: str) -> None:
    _concurrent_case(tmp_path, 3_000, report)


@pytest.mark.slow
def test_concurrent_writers_of_a_200k_report_leave_one_whole_report(tmp_path: Path) -> None:
    _concurrent_case(tmp_path, 200_000, "report.json")


@pytest.mark.parametrize("kind", ["json", "csv", "table", "html", "xlsx"])
def test_a_read_only_report_is_refused_and_kept(tmp_path: Path, kind: str) -> None:
    data = generated_data(tmp_path / "data", 50, seed=3)
    target = tmp_path / f"report.{kind}"
    target.write_text(OLD)
    target.chmod(0o444)  # refused even for root, who could write it
    done = subprocess.run([str(EXECUTABLE), "validate", str(data), "--format", kind, "--output", str(target)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "MR407" in done.stderr and "read-only" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert target.read_text() == OLD
    assert _temporary_files(tmp_path) == []


def _file_size_limited() -> None:
    """A full disk, as a process sees it: writes past 4 KiB fail (EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4_096, 4_096))


@pytest.mark.parametrize("kind", ["json", "csv", "table", "html", "xlsx"])
def test_a_full_disk_keeps_the_old_report_and_says_so_once(tmp_path: Path, kind: str) -> None:
    data = generated_data(tmp_path / "data", 400, seed=5)
    target = tmp_path / f"report.{kind}"
    target.write_text(OLD)
    done = subprocess.run([str(EXECUTABLE), "validate", str(data), "--format", kind, "--output", str(target)],
                          capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=_file_size_limited)  # the limit is the child's only
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("MR407") == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert target.read_text() == OLD
    assert _temporary_files(tmp_path) == []


def test_docs_into_an_unwritable_folder_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "core.md").mkdir()  # where the page goes is taken by a folder: cannot be written
    done = subprocess.run([str(EXECUTABLE), "docs", "--output", str(folder)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2
    assert "MR407" in done.stderr and "Traceback" not in done.stderr


def test_reports_replace_a_writable_file_and_keep_its_permissions(tmp_path: Path) -> None:
    data = generated_data(tmp_path / "data", 50, seed=3)
    target = tmp_path / "report.json"
    target.write_text(OLD)
    target.chmod(0o640)
    subprocess.run([str(EXECUTABLE), "validate", str(data), "--format", "json", "--output", str(target)],
                   capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(target.read_text())["summary"]["rows"] >= 50
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "report.json"]


if sys.platform == "win32":  # pragma: no cover - signals and rlimits are POSIX
    pytestmark = pytest.mark.skip("POSIX only")
