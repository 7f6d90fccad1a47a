"""The functions rule expressions may call: calendars, decimals, text, missing values.

These are offered by the core pack through the same hook any pack uses
(:func:`mentorrules.hookspecs.mentorrules_expression_functions`). A function's type hints are
its contract: the expression checker reads them to refuse wrong arguments at load time.

Calendars follow the policy: state fiscal and program years run July 1 - June 30 and are
named by the year they end (NMSA 6-10-1; AS 37.25.010); the federal fiscal year runs
October 1 - September 30 (31 USC 1102); school year ``2025-26`` is 2025-07-01 .. 2026-06-30.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pendulum

_SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


# -- dates ---------------------------------------------------------------------------------------
# The calendar functions are pure and called for every row with few distinct arguments (pay
# dates, school years): they remember their answers. No engine's state is in them.
@lru_cache(maxsize=8192)
def school_year(day: dt.date, year_start: str = "07-01") -> str:
    """The school (program) year label a date falls in; years start on ``year_start`` (MM-DD).

    >>> school_year(dt.date(2025, 6, 30)), school_year(dt.date(2025, 7, 1))
    ('2024-25', '2025-26')
    """
    month, day_of_month = (int(part) for part in year_start.split("-"))
    start = day.year if (day.month, day.day) >= (month, day_of_month) else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def program_year(day: dt.date) -> int:
    """The state program (and fiscal) year of a date, named by the year it ends.

    >>> program_year(dt.date(2025, 6, 30)), program_year(dt.date(2025, 7, 1))
    (2025, 2026)
    """
    return day.year + 1 if day.month >= 7 else day.year


def federal_fiscal_year(day: dt.date) -> int:
    """The federal fiscal year of a date (October 1 - September 30), named by the year it ends.

    >>> federal_fiscal_year(dt.date(2025, 9, 30)), federal_fiscal_year(dt.date(2025, 10, 1))
    (2025, 2026)
    """
    return day.year + 1 if day.month >= 10 else day.year


def school_year_start(label: str) -> dt.date:
    """The first day (July 1) of a school year label.

    >>> school_year_start("2025-26")
    datetime.date(2025, 7, 1)
    """
    return dt.date(_school_year_first(label), 7, 1)


def school_year_end(label: str) -> dt.date:
    """The last day (June 30) of a school year label.

    >>> school_year_end("2025-26")
    datetime.date(2026, 6, 30)
    """
    return dt.date(_school_year_first(label) + 1, 6, 30)


def school_years_between(first: str, last: str) -> int:
    """How many school years from ``first`` to ``last``, counting both.

    >>> school_years_between("2023-24", "2025-26")
    3
    """
    return _school_year_first(last) - _school_year_first(first) + 1


@lru_cache(maxsize=8192)
def career_year(first_teaching_date: dt.date, label: str) -> int:
    """The career year of a teacher in a school year: 1 in the school year they started.

    >>> career_year(dt.date(2023, 8, 14), "2023-24"), career_year(dt.date(2023, 8, 14), "2025-26")
    (1, 3)
    """
    return school_years_between(school_year(first_teaching_date), label)


@lru_cache(maxsize=1024)
def _school_year_first(label: str) -> int:
    match = _SCHOOL_YEAR.match(label)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError(f"{label!r} is not a school year such as 2025-26")
    return int(match.group(1))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start`` to ``end`` (negative when ``end`` is earlier).

    >>> months_between(dt.date(2025, 1, 31), dt.date(2025, 3, 1))
    1
    """
    period = pendulum.date(start.year, start.month, start.day).diff(
        pendulum.date(end.year, end.month, end.day), abs=False)
    return int(period.in_months())


def days_between(start: dt.date, end: dt.date) -> int:
    """Days from ``start`` to ``end`` (negative when ``end`` is earlier).

    >>> days_between(dt.date(2025, 6, 30), dt.date(2025, 7, 1))
    1
    """
    return (end - start).days


def date(text: str) -> dt.date:
    """A date from ISO text, for comparisons: ``payout.pay_date >= date('2025-07-01')``.

    >>> date("2025-07-01")
    datetime.date(2025, 7, 1)
    """
    parsed = pendulum.parse(text, exact=True)
    if not isinstance(parsed, dt.date) or isinstance(parsed, dt.datetime):
        raise ValueError(f"{text!r} is not a date such as 2025-07-01")
    return dt.date(parsed.year, parsed.month, parsed.day)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end.

    >>> add_months(dt.date(2025, 1, 31), 1)
    datetime.date(2025, 2, 28)
    """
    moved = pendulum.date(day.year, day.month, day.day).add(months=months)
    return dt.date(moved.year, moved.month, moved.day)


# -- numbers -------------------------------------------------------------------------------------
def places(amount: Decimal) -> int:
    """How many decimal places an amount is written with.

    >>> places(Decimal("12.50")), places(Decimal("12.505")), places(Decimal("12"))
    (2, 3, 0)
    """
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def round_cents(amount: Decimal) -> Decimal:
    """An amount rounded half-up to cents.

    >>> round_cents(Decimal("0.125"))
    Decimal('0.13')
    """
    return amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def absolute(amount: Decimal) -> Decimal:
    """The absolute value.

    >>> absolute(Decimal("-3.50"))
    Decimal('3.50')
    """
    return abs(amount)


def smallest(first: Decimal, second: Decimal) -> Decimal:
    """The smaller of two numbers.

    >>> smallest(Decimal("2"), Decimal("3"))
    Decimal('2')
    """
    return min(first, second)


def largest(first: Decimal, second: Decimal) -> Decimal:
    """The larger of two numbers.

    >>> largest(Decimal("2"), Decimal("3"))
    Decimal('3')
    """
    return max(first, second)


def required_match(federal: Decimal, pct: Decimal, basis: str) -> Decimal:
    """The cost share a grant requires (2 CFR 200.306), rounded half-up to the cent.

    On a ``federal_award`` basis the match is ``pct x federal``; on a ``total_project`` basis
    ``pct`` is a share of the whole project (federal + match), so the match is
    ``pct / (1 - pct) x federal``.

    >>> required_match(Decimal("100000.00"), Decimal("0.10"), "federal_award")
    Decimal('10000.00')
    >>> required_match(Decimal("100000.00"), Decimal("0.10"), "total_project")
    Decimal('11111.11')
    >>> required_match(Decimal("250000.00"), Decimal("0.25"), "total_project")
    Decimal('83333.33')
    """
    if not Decimal(0) <= pct < Decimal(1):
        raise ValueError(f"a match percentage of {pct} is not a fraction below 1")
    if basis == "federal_award":
        return round_cents(federal * pct)
    if basis == "total_project":
        return round_cents(federal * pct / (Decimal(1) - pct))
    raise ValueError(f"unknown match basis {basis!r}; expected federal_award or total_project")


# -- text and missing values ---------------------------------------------------------------------
def present(value: Any) -> bool:
    """True when a value is there: not missing and not empty text or an empty list.

    >>> present(None), present(""), present(0), present("x")
    (False, False, True, True)
    """
    return value is not None and value != "" and value != []


def missing(value: Any) -> bool:
    """True when a value is missing or empty (the opposite of :func:`present`).

    >>> missing(None), missing("T-1")
    (True, False)
    """
    return not present(value)


def either(value: Any, fallback: Any) -> Any:
    """``value`` when it is present, else ``fallback``: a row's own value before a default.

    >>> either(None, Decimal("0.10")), either(Decimal("0.25"), Decimal("0.10"))
    (Decimal('0.10'), Decimal('0.25'))
    """
    return value if present(value) else fallback


class Ascending(list[Any]):
    """A list known to be sorted (``distinct(x)`` of a batch rule), so that a rank is a binary
    search, not a scan: a rule ranking each row of a 20,000-row group stays n log n."""

    __slots__ = ()


def count_at_most(values: list[Any], limit: Any) -> int:
    """How many of ``values`` are at most ``limit``: the rank of a year among the distinct years.

    >>> count_at_most(["2022-23", "2024-25", "2025-26"], "2024-25"), count_at_most(Ascending([1, 2, 3]), 2)
    (2, 2)
    """
    if isinstance(values, Ascending):
        return bisect_right(values, limit)
    return sum(1 for value in values if value <= limit)


def get(mapping: dict[str, Any], key: str) -> Any:
    """The entry of a parameter map, or nothing when the map has no such key.

    >>> get({"VINE": Decimal("0.10")}, "STARR") is None
    True
    """
    return mapping.get(key)


def lower(text: str) -> str:
    """Text in lower case.

    >>> lower("Peñasco")
    'peñasco'
    """
    return text.lower()


def upper(text: str) -> str:
    """Text in upper case."""
    return text.upper()


def trim(text: str) -> str:
    """Text without leading and trailing spaces."""
    return text.strip()


def starts_with(text: str, prefix: str) -> bool:
    """True when ``text`` begins with ``prefix``.

    >>> starts_with("EIR-2023", "EIR")
    True
    """
    return text.startswith(prefix)


def length(value: str | list[Any]) -> int:
    """The number of characters of text, or items of a list.

    >>> length(["2016-17", "2017-18"])
    2
    """
    return len(value)


def joined(values: list[Any], separator: str = ", ") -> str:
    """The items of a list as one text, as a message shows a list (``VINE, EIR-2023``).

    >>> joined(["VINE", "EIR-2023"]), joined(["2016-17", "2017-18"], " and ")
    ('VINE, EIR-2023', '2016-17 and 2017-18')
    """
    return separator.join(item.isoformat() if isinstance(item, dt.date) else str(item) for item in values)


BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    function.__name__: function
    for function in (
        school_year, program_year, federal_fiscal_year, school_year_start, school_year_end,
        school_years_between, career_year, months_between, days_between, date, add_months,
        places, round_cents, absolute, smallest, largest, required_match,
        present, missing, either, get, count_at_most, lower, upper, trim, starts_with, length, joined,
    )
}
