"""Report -> JSON: the contract other systems read (see docs/reference.md, "The JSON report").

Written as a stream, one record per line, so a million-row report needs no second copy in
memory; keys come in a fixed order and rows in input order, so the same inputs and packs give
byte-identical output.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C encoder json.dumps uses
from typing import TextIO

from mentorrules.model import Report


def write(report: Report, stream: TextIO) -> None:
    """Write the report; ``json.load`` of the output equals ``report.to_dict()``."""
    stream.write(json.dumps(report.head(), ensure_ascii=False)[:-1])
    stream.write(', "records": [')
    dumps, quote = json.dumps, encode_basestring
    tables: dict[str, str] = {}
    separator = "\n  "
    for decision in report.records:
        stream.write(separator)
        separator = ",\n  "
        if decision.findings:
            stream.write(dumps(decision.to_dict(), ensure_ascii=False))
            continue
        # The common case, written without building a dict.
        table = tables.get(decision.table) or tables.setdefault(decision.table, quote(decision.table))
        line = "" if decision.line is None else f'"line": {decision.line}, '
        stream.write(f'{{"table": {table}, "row": {decision.row}, {line}"key": {quote(decision.key)}, '
                     f'"status": "{decision.status.value}", "findings": []}}')
    stream.write("\n]}\n")
