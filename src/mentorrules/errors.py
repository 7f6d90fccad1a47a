"""Problems and where they are: the values every stage returns instead of raising tracebacks.

A stage that finds something wrong with its input builds a :class:`Problem` and keeps going,
so that a user sees every mistake of a file at once. Only ``cli.py`` prints problems.

Codes are stable and grouped by stage (see ``docs/problems.md``):

- ``MR1xx`` rule, parameter and test files: YAML and schema
- ``MR2xx`` expressions: syntax, whitelist, names, types, cost
- ``MR3xx`` input data: files, tables, columns, cell values
- ``MR4xx`` packs, command-line and library usage

Every exception the library raises on bad use or bad input is a :class:`MentorRulesError`
(or a subclass): it carries the problems, each with its code and location, and pickles intact
(a worker process can send it back). The library logs to the ``mentorrules`` logger, which has
a ``NullHandler``: nothing is printed unless the application configures logging.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

logging.getLogger("mentorrules").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Location:
    """Where a problem is: a place in a text file, or a cell of an input table.

    >>> str(Location("rules/caps.yaml", line=14, column=35))
    'rules/caps.yaml:14:35'
    >>> str(Location("payouts.csv", row=18, field="amount"))
    "payouts.csv: row 18, column 'amount'"
    """

    path: str | None = None
    line: int | None = None
    column: int | None = None
    end_column: int | None = None
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        text = self.path or "<input>"
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        if self.row is not None:
            text += f": row {self.row}"
        if self.field is not None:
            text += f", column {self.field!r}" if self.row is not None else f": column {self.field!r}"
        return text


@dataclass(frozen=True)
class Problem:
    """Something wrong with an input, told so that a person can fix it.

    ``expected`` says what would have been right; ``hint`` how to get there.
    """

    code: str
    message: str
    location: Location
    expected: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.code} {self.message}"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class MentorRulesError(Exception):
    """Raised with every problem found when a stage cannot produce its output at all.

    ``code`` and ``location`` are those of the first problem.

    >>> import pickle
    >>> error = MentorRulesError([Problem("MR401", "unknown pack 'ohio'", Location())])
    >>> error.problems[0].code, error.code
    ('MR401', 'MR401')
    >>> pickle.loads(pickle.dumps(error)).problems == error.problems
    True
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @property
    def code(self) -> str | None:
        """The MR code of the first problem (``docs/problems.md``)."""
        return self.problems[0].code if self.problems else None

    @property
    def location(self) -> Location | None:
        """Where the first problem is."""
        return self.problems[0].location if self.problems else None

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.problems,)


class UsageError(MentorRulesError):
    """A library call given arguments of the wrong kind (MR420): a record that is not a
    mapping, a date given as text, a keyword of the wrong type.

    >>> raise UsageError([Problem("MR420", "as_of is a str, not a date", Location(field="as_of"))])
    Traceback (most recent call last):
    ...
    mentorrules.errors.UsageError: <input>: column 'as_of': MR420 as_of is a str, not a date
    """


class CorrelationError(MentorRulesError):
    """A session cannot do what was asked: bad rules, unknown session, dead backend, too many
    sessions (MR421), or a session used in a forked child process (MR422).

    >>> raise CorrelationError("unknown session 7")
    Traceback (most recent call last):
    ...
    mentorrules.errors.CorrelationError: <input>: MR421 unknown session 7
    """

    def __init__(self, problems: str | Iterable[Problem], code: str = "MR421") -> None:
        super().__init__([Problem(code, problems, Location())] if isinstance(problems, str) else problems)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, if one is close.

    >>> did_you_mean("max_mentee", ["max_mentees", "release_fraction"])
    "did you mean 'max_mentees'?"
    """
    close = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def one_of(choices: Iterable[str], limit: int = 12) -> str:
    """Name the allowed choices, shortened when there are many.

    >>> one_of(["b", "a"])
    'one of: a, b'
    """
    names = sorted(set(choices))
    if not names:
        return "nothing (none is defined here)"
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"one of: {shown}{more}"
