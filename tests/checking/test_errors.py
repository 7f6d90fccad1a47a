"""Bad use of the library is a coded MentorRulesError, never a TypeError from inside; errors pickle."""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from typing import Any

import pytest

import mentorrules
from mentorrules import CorrelationError, Engine, Location, MentorRulesError, Problem, UsageError

ENGINE = Engine.load(packs=[])
PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
          "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "500.00"}


@pytest.mark.parametrize(("call", "code"), [
    (lambda: ENGINE.evaluate([1, 2]), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(None), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(PAYOUT, "payoutz"), "MR300"),
    (lambda: ENGINE.evaluate(PAYOUT, ["payouts"]), "MR300"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(PAYOUT, as_of="2025-09-15"), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(PAYOUT, as_of=20250915), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(PAYOUT, related=[{"person_id": "T-1"}]), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.evaluate(PAYOUT, related={"peeple": []}), "MR300"),
    (lambda: ENGINE.evaluate(PAYOUT, related={"people": {"person_id": "T-1"}}), "MR300"),
    (lambda: ENGINE.evaluate(PAYOUT, related={"people": 7}), "MR300"),
    (lambda: ENGINE.evaluate(PAYOUT, not_given="attendance"), "MR420"),
    (lambda: ENGINE.evaluate(PAYOUT, not_given=["atendance"]), "MR300"),
    (lambda: ENGINE.prepare(as_of="today"), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.prepare(people=[], not_given=["people"]), "MR420"),
    (lambda: ENGINE.prepare().upsert("people", None), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.prepare().upsert("persons", {}), "MR300"),
    (lambda: ENGINE.prepare().remove("people", 7), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.prepare().evaluate(PAYOUT, as_of="2025-09-15"), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.validate({"payouts": [PAYOUT]}, as_of="2025-09-15"), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.validate({"payouts": [PAYOUT]}, mask="name"), "MR420"),  # letter by letter, it masked nothing
    (lambda: ENGINE.validate({"payouts": [PAYOUT]}, mask=5), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.validate({"payouts": [PAYOUT]}, progress=5), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.validate(5), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.validate(None), "MR420"),  # type: ignore[arg-type]
    (lambda: ENGINE.explain_rows({"payouts": [PAYOUT]}, mask="name").__next__(), "MR420"),
    (lambda: ENGINE.session(as_of="2025-09-15"), "MR420"),  # type: ignore[arg-type]
    (lambda: Engine.load(packs="alaska"), "MR420"),
    (lambda: Engine.load(packs=5), "MR420"),  # type: ignore[arg-type]
    (lambda: Engine.load(rules=5), "MR420"),  # type: ignore[arg-type]
    (lambda: Engine.load(packs=[], sessions={"backend": "python"}), "MR420"),  # type: ignore[arg-type]
])
def test_bad_use_is_a_coded_error(call: Any, code: str) -> None:
    with pytest.raises(MentorRulesError) as raised:
        call()
    assert raised.value.code == code
    assert isinstance(raised.value.location, Location)


def test_a_date_given_as_text_does_not_silently_change_the_answer() -> None:
    day = dt.date(2025, 9, 15)
    assert ENGINE.evaluate(PAYOUT, as_of=dt.datetime(2025, 9, 15, 8)) == ENGINE.evaluate(PAYOUT, as_of=day)


@pytest.mark.parametrize("error", [
    MentorRulesError([Problem("MR401", "unknown pack 'ohio'", Location(), expected="new-mexico", hint="h")]),
    UsageError([Problem("MR420", "as_of is a str", Location(field="as_of"))]),
    CorrelationError("too many open sessions: 512"),
    CorrelationError("forked", code="MR422"),
])
def test_errors_pickle_intact(error: MentorRulesError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.problems, str(copy), copy.code) == (error.problems, str(error), error.code)


def test_every_error_is_exported_and_one_hierarchy() -> None:
    for name in ("MentorRulesError", "UsageError", "CorrelationError", "Context", "SessionConfig"):
        assert name in mentorrules.__all__ and getattr(mentorrules, name)
    assert issubclass(UsageError, MentorRulesError) and issubclass(CorrelationError, MentorRulesError)
    from mentorrules.sessions.correlation import CorrelationError as from_sessions

    assert from_sessions is CorrelationError


def test_the_library_logger_has_a_null_handler() -> None:
    assert any(isinstance(handler, logging.NullHandler) for handler in logging.getLogger("mentorrules").handlers)
