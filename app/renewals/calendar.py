"""The reminder calendar: pure date arithmetic, no database.

An *offset* says when, relative to a domain's expiry date, a reminder is due: ``3m`` three
calendar months before, ``15d`` fifteen days before, ``0d`` on the expiry day (the deletion
reminder), ``+3d`` three days after it (ICANN ERRP's post-expiry notice). Months are calendar
months with month-end clamping (dateutil's ``relativedelta``): expiry 2027-03-31 minus one
month is 2027-02-28, so every domain gets every reminder exactly once, whatever the month
lengths.

On a given day a domain is due for at most one reminder: the most recent one whose date has
come (the *current* offset), if it is at most ``catchup_days`` late. Older missed reminders
are never sent; sending the current one once is the reminder log's job.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

DEFAULT_OFFSETS = "3m,2m,1m,15d,5d,4d,3d,2d,1d,0d"
_OFFSET = re.compile(r"^([+-]?)(\d{1,3})([dm])$")
#: A month offset moves between 28 and 31 days per month; a day offset inside that span of one
#: would swap order with it in some months, and the calendar needs a fixed order.
_MONTH_DAYS = (28, 31)


def shifted(day: dt.date, delta: dt.timedelta | relativedelta) -> dt.date:
    """``day + delta``, clamped to the calendar's ends (``date.min``/``date.max``) instead of
    overflowing: a date stored far out of range (0001-01-01, 9999-12-31) must not break a
    page or a run that computes with it. Deltas here are years at most, so an overflow always
    happens at the end ``day`` is near."""
    try:
        return day + delta
    except (OverflowError, ValueError):
        return dt.date.max if day.year > dt.MAXYEAR // 2 else dt.date.min


class InvalidOffsets(ValueError):
    """REMINDER_OFFSETS cannot be used; the message says why."""


@dataclass(frozen=True, order=True)
class Offset:
    """A reminder's distance from the expiry date. Positive ``before`` = before expiry."""

    #: Sort key: roughly the days before expiry (months counted as 30.44 days).
    approx_days_before: float
    before: int
    unit: str  # "d" or "m"

    @classmethod
    def parse(cls, text: str) -> Offset:
        match = _OFFSET.match(text.strip().lower())
        if not match:
            raise InvalidOffsets(
                f"{text.strip()!r} is not an offset: use e.g. 3m (3 months before), "
                "15d (15 days before), 0d (the expiry day) or +3d (3 days after)"
            )
        sign, amount, unit = match.groups()
        before = -int(amount) if sign == "+" else int(amount)
        approx = before * (30.44 if unit == "m" else 1)
        return cls(approx, before, unit)

    @property
    def code(self) -> str:
        """The canonical text form, stored in the reminder log: ``3m``, ``15d``, ``0d``, ``+3d``."""
        if self.before < 0:
            return f"+{-self.before}{self.unit}"
        return f"{self.before}{self.unit}"

    def reminder_date(self, expiry: dt.date) -> dt.date:
        """The day this reminder is due for a domain expiring on ``expiry``."""
        if self.unit == "m":
            return shifted(expiry, relativedelta(months=-self.before))
        return shifted(expiry, dt.timedelta(days=-self.before))

    def latest_expiry_due_by(self, day: dt.date) -> dt.date:
        """The last expiry date whose reminder date is on or before ``day``.

        ``reminder_date`` never decreases as the expiry grows, so this bounds a range query.
        Month clamping means the inverse is not plain addition; a short walk settles it.
        """
        expiry = shifted(
            day,
            relativedelta(months=self.before)
            if self.unit == "m"
            else dt.timedelta(days=self.before),
        )
        while expiry > dt.date.min and self.reminder_date(expiry) > day:
            expiry -= dt.timedelta(days=1)
        while expiry < dt.date.max and self.reminder_date(expiry + dt.timedelta(days=1)) <= day:
            expiry += dt.timedelta(days=1)
        return expiry

    def __str__(self) -> str:
        return self.code


def parse_offsets(text: str) -> tuple[Offset, ...]:
    """Parse ``REMINDER_OFFSETS`` ("3m,2m,1m,15d,...") into offsets, furthest from expiry first.

    Raises ``InvalidOffsets`` for bad syntax, duplicates, an empty list, or a day offset that a
    month offset would overtake in some months (e.g. 30d with 1m).
    """
    parts = [part for part in (text or "").replace(";", ",").split(",") if part.strip()]
    if not parts:
        raise InvalidOffsets("REMINDER_OFFSETS is empty: give at least one offset, e.g. 1m,5d,0d")
    offsets = [Offset.parse(part) for part in parts]
    codes = [offset.code for offset in offsets]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise InvalidOffsets(f"REMINDER_OFFSETS lists {', '.join(duplicates)} more than once")
    months = [o for o in offsets if o.unit == "m" and o.before != 0]
    for day_offset in (o for o in offsets if o.unit == "d"):
        for month_offset in months:
            low, high = (month_offset.before * n for n in _MONTH_DAYS)
            if min(low, high) <= day_offset.before <= max(low, high):
                raise InvalidOffsets(
                    f"{day_offset.code} and {month_offset.code} swap order in some months: "
                    "choose day offsets outside 28-31 days per month"
                )
    return tuple(sorted(offsets, reverse=True))


@dataclass(frozen=True)
class ExpiryRange:
    """Expiry dates ``first``..``last`` (inclusive) whose current reminder is ``offset``."""

    offset: Offset
    first: dt.date
    last: dt.date


def due_ranges(offsets: tuple[Offset, ...], today: dt.date, catchup_days: int) -> list[ExpiryRange]:
    """For each offset, the expiry dates for which it is the reminder due ``today``.

    A domain expiring on E is due for offset o when o is E's current offset (o's date has come,
    the next offset's has not) and o's date is at most ``catchup_days`` before today. The
    ranges are disjoint, so the due set of a day is a handful of indexed range queries.
    """
    ranges = []
    day_before_window = today - dt.timedelta(days=catchup_days + 1)
    for index, offset in enumerate(offsets):
        # o's date has come: E <= L(today); it is not too late: E > L(day before the window).
        last = offset.latest_expiry_due_by(today)
        after = offset.latest_expiry_due_by(day_before_window)
        if index + 1 < len(offsets):
            # The next (closer) offset's date has not come yet, or that one would be current.
            after = max(after, offsets[index + 1].latest_expiry_due_by(today))
        first = after + dt.timedelta(days=1)
        if first <= last:
            ranges.append(ExpiryRange(offset, first, last))
    return ranges


def current_offset(offsets: tuple[Offset, ...], expiry: dt.date, today: dt.date) -> Offset | None:
    """The most recent offset whose reminder date is on or before ``today`` (None: none yet)."""
    current = None
    for offset in offsets:  # furthest from expiry first
        if offset.reminder_date(expiry) <= today:
            current = offset
    return current


def due_offset(
    offsets: tuple[Offset, ...], expiry: dt.date, today: dt.date, catchup_days: int
) -> Offset | None:
    """The reminder a domain expiring on ``expiry`` is due for today, if any (see module doc)."""
    offset = current_offset(offsets, expiry, today)
    if offset is None or (today - offset.reminder_date(expiry)).days > catchup_days:
        return None
    return offset


@dataclass(frozen=True)
class Remaining:
    """The time left (or past) that a digest line states, before wording and translation.

    ``unit`` is "months" (an on-time month reminder reads "2 months"), "days", "today" or
    "expired" (``count`` days ago). A late reminder always states the true number of days.
    """

    days_left: int
    unit: str
    count: int


def remaining(expiry: dt.date, today: dt.date, offset: Offset) -> Remaining:
    days_left = (expiry - today).days
    if offset.unit == "m" and offset.before > 0 and offset.reminder_date(expiry) == today:
        return Remaining(days_left, "months", offset.before)
    if days_left == 0:
        return Remaining(0, "today", 0)
    if days_left < 0:
        return Remaining(days_left, "expired", -days_left)
    return Remaining(days_left, "days", days_left)
