"""Answers of the service -> a decision log: one JSON object per line, appended.

Each line is written whole with one ``write`` call and flushed, so that a reader (``tail -f``,
a log shipper) never sees half a line and a crash loses no line already answered. Values of the
masked columns never reach the log: the service masks them before it writes (see ``app.py``).

    >>> import tempfile, pathlib, json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "decisions.jsonl"
    >>> log = DecisionLog(path)
    >>> log.write({"decision_id": "d-1", "status": 200})
    >>> log.close()
    >>> json.loads(path.read_text())["decision_id"]
    'd-1'
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import orjson


class DecisionLog:
    """An append-only JSON lines file, safe to write from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("ab", buffering=0)  # unbuffered: each line reaches the file at once

    def write(self, entry: dict[str, Any]) -> None:
        """Append ``entry`` with the time it was written (UTC, milliseconds) first."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = orjson.dumps({"time": now, **entry}) + b"\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()
