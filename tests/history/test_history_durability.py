"""A run is recorded whole or not at all, whatever stops it, and two runs may record at once.

These tests start the installed `mentorrules` as separate processes on a generated data set and
stop or kill them for real, while they write the history.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import EXECUTABLE, generated_data

AS_OF = "2026-06-30"


def _command(data: Path, history: Path, report: Path) -> list[str]:
    return [str(EXECUTABLE), "validate", str(data), "--as-of", AS_OF, "--history", str(history),
            "--format", "json", "--output", str(report)]


def _count(history: Path, sql: str) -> int:
    connection = sqlite3.connect(history, timeout=30)
    try:
        return int(connection.execute(sql).fetchone()[0])
    finally:
        connection.close()


def _writing(history: Path) -> bool:
    """True while another connection holds the history's write lock (a run is being written)."""
    connection = sqlite3.connect(history, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return True
        raise
    finally:
        connection.close()


def _written(report: Path) -> bool:
    """True once the JSON report is complete (it ends with its closing brackets)."""
    try:
        with report.open("rb") as stream:
            stream.seek(-4, os.SEEK_END)
            return stream.read() == b"\n]}\n"
    except OSError:  # not there yet, or shorter than 4 bytes
        return False


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_data(tmp_path_factory.mktemp("generated"), payouts=10_000, seed=16, violations=0.05)


def _records_of_a_run(history: Path) -> int:
    return _count(history, "SELECT count(*) FROM records WHERE run_id = 1")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda stop: stop.name)
def test_a_run_killed_while_it_is_written_leaves_no_half_run(generated: Path, tmp_path: Path,
                                                             stop: signal.Signals) -> None:
    history = tmp_path / "history.sqlite"
    whole = subprocess.run(_command(generated, history, tmp_path / "first.json"), capture_output=True, text=True,
                           timeout=300, check=False)
    assert whole.returncode == 1, whole.stderr
    records = _records_of_a_run(history)
    assert records > 25_000
    caught = False
    for attempt in range(5):  # the write lasts a fraction of a second: catch it, stop the process, kill it
        runs = _count(history, "SELECT count(*) FROM runs")
        report = tmp_path / f"report{attempt}.json"
        process = subprocess.Popen(_command(generated, history, report),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # The run is recorded once its report is written whole: wait for that, then for the lock.
            while process.poll() is None and not (_written(report) and _writing(history)):
                time.sleep(0.0005)
            if process.poll() is not None:
                continue
            os.kill(process.pid, signal.SIGSTOP)
            # Stopped while it holds the write lock: the run is being written and not yet committed.
            caught = _writing(history) and _count(history, "SELECT count(*) FROM runs") == runs
            os.kill(process.pid, stop)
            os.kill(process.pid, signal.SIGCONT)
            _, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if caught:
            break
    assert caught, "the test never caught a run while it was written"
    if stop is signal.SIGINT:
        assert process.returncode == 130 and "Traceback" not in err, err
    else:
        assert process.returncode == -stop, (process.returncode, err)
    # Nothing of the killed run stays: no run row, no records or inputs of a run that is not there.
    assert _count(history, "SELECT count(*) FROM runs") == runs, err
    assert _count(history, "SELECT count(*) FROM records WHERE run_id NOT IN (SELECT id FROM runs)") == 0
    assert _count(history, "SELECT count(*) FROM inputs WHERE run_id NOT IN (SELECT id FROM runs)") == 0
    connection = sqlite3.connect(history)
    assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()
    # The history goes on: the next run is recorded whole.
    again = subprocess.run(_command(generated, history, tmp_path / "again.json"), capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 1, again.stderr
    last = _count(history, "SELECT max(id) FROM runs")
    assert _count(history, f"SELECT count(*) FROM records WHERE run_id = {last}") == records


def test_two_runs_recording_at_once_are_both_recorded_whole(generated: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    processes = [subprocess.Popen(_command(generated, history, tmp_path / f"report{number}.json"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for number in range(2)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [1, 1], results
    assert sorted(_count(history, f"SELECT count(*) FROM runs WHERE id = {run}") for run in (1, 2)) == [1, 1]
    counts = {_count(history, f"SELECT count(*) FROM records WHERE run_id = {run}") for run in (1, 2)}
    assert len(counts) == 1 and counts.pop() > 25_000
    recorded = sorted(err.split("recorded run ")[1].split()[0] for _, err in results)
    assert recorded == ["1", "2"]
