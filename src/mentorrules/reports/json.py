"""Report -> JSON: the contract other systems read (see README, "The JSON report").

Keys are written in a fixed order and rows in input order, so the same inputs and packs give
byte-identical output.
"""

from __future__ import annotations

import json
from typing import TextIO

from mentorrules.engine import Report


def write(report: Report, stream: TextIO) -> None:
    """Write ``report.to_dict()`` as indented UTF-8 JSON with a final newline."""
    json.dump(report.to_dict(), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
