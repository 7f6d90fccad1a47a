"""Report -> JSON: the contract other systems read (see README, "The JSON report").

Written as a stream, one record per line, so a million-row report needs no second copy in
memory; keys come in a fixed order and rows in input order, so the same inputs and packs give
byte-identical output.
"""

from __future__ import annotations

import json
from typing import TextIO

from mentorrules.engine import Report


def write(report: Report, stream: TextIO) -> None:
    """Write the report; ``json.load`` of the output equals ``report.to_dict()``."""
    head = report.to_dict()
    del head["records"]
    stream.write(json.dumps(head, ensure_ascii=False)[:-1])
    stream.write(', "records": [')
    dumps = json.dumps
    first = True
    for decision in report.records:
        stream.write("\n  " if first else ",\n  ")
        first = False
        if decision.findings:
            stream.write(dumps(decision.to_dict(), ensure_ascii=False))
        else:
            # The common case, written without building a dict.
            stream.write(f'{{"table": {dumps(decision.table)}, "row": {decision.row}, '
                         f'"key": {dumps(decision.key, ensure_ascii=False)}, '
                         f'"status": "{decision.status.value}", "findings": []}}')
    stream.write("\n]}\n")
