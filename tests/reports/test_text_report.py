"""The table report for a terminal: findings line up whatever the length of the rule ids."""

from __future__ import annotations

import io

from mentorrules.model import Decision, Finding, Report, Severity, Status
from mentorrules.reports import text


def test_severities_and_messages_align_for_rule_ids_longer_than_14_characters() -> None:
    report = Report("0.1.0", (("core", "0.1.0"),), "sha256:" + "0" * 64, (
        Decision("payouts", 1, "P-1", Status.FAIL, (
            Finding("STIPEND-001", Severity.ERROR, "role coach is not eligible"),
            Finding("STIPEND-005-BAND", Severity.WARNING, "amount 9000.00 is outside the band"),
        )),
        Decision("payouts", 2, "P-2", Status.FAIL, (Finding("NMP-005", Severity.ERROR, "over the cap"),)),
    ))
    stream = io.StringIO()
    text.write(report, stream)
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("    ")]
    assert len(lines) == 3
    severity_columns = {line.index(severity) for line in lines for severity in ("error", "warning")
                        if f" {severity} " in line}
    message_columns = {line.index(message) for line, message in zip(
        lines, ("role coach", "amount 9000.00", "over the cap"), strict=True)}
    assert len(severity_columns) == 1, lines
    assert len(message_columns) == 1, lines
    assert "    STIPEND-005-BAND  warning  amount 9000.00 is outside the band" in lines
