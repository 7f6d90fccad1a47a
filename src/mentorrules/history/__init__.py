"""Run history: every ``validate`` run recorded in one SQLite file, listed and compared.

    >>> import datetime as dt, tempfile
    >>> from pathlib import Path
    >>> from mentorrules import Engine
    >>> engine = Engine.load(packs=[])
    >>> data = {"payouts": [{"payout_id": "P-1", "payee_id": "T-1", "role": "coach", "program": "NM_PILOT",
    ...         "state": "NM", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00"}],
    ...         "people": [{"person_id": "T-1", "career_year": 1}]}
    >>> dataset = engine.read(data)
    >>> with History.open(Path(tempfile.mkdtemp()) / "history.sqlite", create=True) as history:
    ...     first = history.record(engine.validate(dataset), amounts_of(dataset.tables), dt.date(2025, 9, 15))
    ...     data["payouts"][0]["role"] = "mentor"
    ...     dataset = engine.read(data)
    ...     second = history.record(engine.validate(dataset), amounts_of(dataset.tables), dt.date(2025, 9, 15))
    ...     found = since_last(history)
    >>> [change.key for change in found.changes.fixed], str(found.changes.money()["fixed"])
    (['P-1'], '1000.00')
"""

from __future__ import annotations

from pathlib import Path

from mentorrules.history.comparing import Change, Changes, Comparison, changes, compare, compare_last, since_last
from mentorrules.history.store import DEFAULT_PATH, History, Input, RunInfo, StoredRecord, amounts_of

__all__ = ["DEFAULT_PATH", "Change", "Changes", "Comparison", "History", "Input", "RunInfo", "StoredRecord",
           "amounts_of", "changes", "compare", "compare_last", "since_last", "store_path"]


def store_path(history: Path | None, record: bool | None, folder: Path) -> Path | None:
    """Where ``validate`` records its run, or None when it does not.

    ``--no-record`` (``record`` False) never records; ``--history PATH`` records there;
    ``--record`` alone records in ``.mentorrules/history.sqlite`` of ``folder`` (the working
    directory); with neither, a run is recorded when that file exists (a configured history).

    >>> store_path(None, None, Path("/nonexistent")) is None
    True
    >>> store_path(None, True, Path("/work"))
    PosixPath('/work/.mentorrules/history.sqlite')
    """
    if record is False:
        return None
    if history is not None:
        return history
    default = folder / DEFAULT_PATH
    if record or default.is_file():
        return default
    return None
