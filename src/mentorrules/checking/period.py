"""Period text -> the days a run judges (``validate --period``), and what the rules look back on.

A finance officer checks this month's payouts against the year's history: only payouts whose
pay date falls in the period are judged; earlier rows are *history* (read, counted in caps,
duplicates and year limits, never judged). A period is written

- a month, ``2026-06`` (June 1 to June 30, 2026);
- a range of days, ``2026-06-01..2026-06-30`` (both days included);
- a school year, ``2025-26`` (2025-07-01 to 2026-06-30, the program year of POLICY).

A batch rule over payouts that groups by school year (a yearly cap, installments, duplicates of
an installment) needs the payouts of the period's school year from its first day; one that
groups otherwise (a repeated payout id, years of mentorship per teacher) needs every earlier
payout. :func:`window_start` says from when.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from mentorrules.errors import Location, MentorRulesError, Problem

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_SCHOOL_YEAR = _MONTH
SCHOOL_YEAR_START = (7, 1)  # July 1 (POLICY: program years run July 1 - June 30)


@dataclass(frozen=True)
class Period:
    """The first and last day judged, and the text it was written as.

    >>> Period.parse("2026-06")
    Period(start=datetime.date(2026, 6, 1), end=datetime.date(2026, 6, 30), text='2026-06')
    >>> Period.parse("2025-26").start, Period.parse("2025-26").end
    (datetime.date(2025, 7, 1), datetime.date(2026, 6, 30))
    >>> Period.parse("2026-06-01..2026-06-15").end
    datetime.date(2026, 6, 15)
    """

    start: dt.date
    end: dt.date
    text: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """A period from its text; raise :class:`MentorRulesError` (MR413) when it is none."""
        text = text.strip()
        try:
            found = _RANGE.match(text)
            if found:
                start, end = (dt.date.fromisoformat(part) for part in found.groups())
                if end < start:
                    raise ValueError("the range ends before it starts")
                return cls(start, end, text)
            found = _SCHOOL_YEAR.match(text)
            # A year and the next one's last two digits is a school year (2011-12 too: write
            # 2011-12-01..2011-12-31 for that December).
            if found and int(found.group(2)) == (int(found.group(1)) + 1) % 100:
                first = int(found.group(1))
                return cls(dt.date(first, *SCHOOL_YEAR_START), dt.date(first + 1, 6, 30), text)
            found = _MONTH.match(text)
            if found:
                year, month = int(found.group(1)), int(found.group(2))
                if not 1 <= month <= 12:
                    raise ValueError(f"there is no month {month}")
                return cls(dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]), text)
        except ValueError as error:
            raise _problem(text, str(error)) from None
        raise _problem(text, None)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "start": self.start.isoformat(), "end": self.end.isoformat()}


def school_year_start(day: dt.date) -> dt.date:
    """The first day of the school year a day is in.

    >>> school_year_start(dt.date(2026, 6, 1)), school_year_start(dt.date(2026, 7, 1))
    (datetime.date(2025, 7, 1), datetime.date(2026, 7, 1))
    """
    year = day.year if (day.month, day.day) >= SCHOOL_YEAR_START else day.year - 1
    return dt.date(year, *SCHOOL_YEAR_START)


def school_year_label(day: dt.date) -> str:
    """``2025-26`` for a day of that school year.

    >>> school_year_label(dt.date(2026, 6, 1))
    '2025-26'
    """
    start = school_year_start(day).year
    return f"{start}-{(start + 1) % 100:02d}"


def window_start(period: Period, by_school_year: bool) -> dt.date | None:
    """From when a rule needs payouts to judge the period: the start of the period's school year
    for a rule grouping by school year, else every earlier payout (None)."""
    return school_year_start(period.start) if by_school_year else None


def _problem(text: str, why: str | None) -> MentorRulesError:
    return MentorRulesError([Problem(
        "MR413", f"--period {text!r} is not a period" + (f": {why}" if why else ""), Location(),
        expected="a month (2026-06), a range of days (2026-06-01..2026-06-30) or a school year (2025-26)",
        hint="write the month of the payouts to judge, e.g. --period 2026-06")])
