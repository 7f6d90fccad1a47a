"""Explanations -> JSON: how each rule went for one record, as the contract writes it.

The ``trace`` of ``schemas/decision.schema.json``: ``mentorrules explain --format json``,
``Decision.trace()`` and the HTTP service's ``/v1/evaluate?explain=true`` all write it with
:func:`trace_of`, so that the three cannot disagree. Values are shown as the text report shows
them (dates ISO, amounts as written), so a trace is plain JSON with no float in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mentorrules.checking.evaluation import Explanation, show

OUTCOMES = ("holds", "fails", "cannot check", "does not apply", "not checked")


def outcome_of(explanation: Explanation) -> str:
    """One of :data:`OUTCOMES`: ``fails`` has a finding of the rule's severity (a warning
    ``fails`` too, without failing the record); ``cannot check`` lacked a value it needs."""
    if explanation.not_given:
        return "not checked"
    if not explanation.applies:
        return "does not apply"
    if explanation.finding is None:
        return "holds"
    return "cannot check" if explanation.finding.cannot_check else "fails"


def explanation_to_dict(explanation: Explanation) -> dict[str, Any]:
    """One rule's explanation as JSON: rule, title, severity, outcome, then what shows why.

    ``steps`` (sub-expression, value) and ``parameters`` (each value used with the date it took
    effect) are given for a rule that ran; ``finding`` when it did not hold; ``not_given`` the
    tables a rule that was not checked reads.
    """
    rule = explanation.rule
    outcome = outcome_of(explanation)
    result: dict[str, Any] = {"rule": rule.id, "title": rule.title, "severity": rule.severity.value,
                              "outcome": outcome}
    if outcome == "not checked":
        result["not_given"] = list(explanation.not_given)
    if explanation.applies:
        result["require"] = rule.require.text.strip()
        result["steps"] = [{"expression": step.text, "value": show(step.value)} for step in explanation.steps]
        result["parameters"] = list(explanation.parameters)
    result["finding"] = explanation.finding.to_dict() if explanation.finding is not None else None
    return result


def trace_of(explanations: Iterable[Explanation]) -> list[dict[str, Any]]:
    """Every rule's explanation of one record, in the order the rules are loaded."""
    return [explanation_to_dict(explanation) for explanation in explanations]
