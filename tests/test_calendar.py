"""The reminder calendar, tested as pure date arithmetic (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from renewal_reminder.renewals.calendar import (
    DEFAULT_OFFSETS,
    InvalidOffsets,
    Offset,
    due_offset,
    due_ranges,
    parse_offsets,
)
from renewal_reminder.renewals.reminders import describe

OFFSETS = parse_offsets(DEFAULT_OFFSETS)
D = dt.date


def test_default_offsets_in_order():
    assert [o.code for o in OFFSETS] == [
        "3m",
        "2m",
        "1m",
        "15d",
        "5d",
        "4d",
        "3d",
        "2d",
        "1d",
        "0d",
    ]


def test_post_expiry_offsets_come_last():
    offsets = parse_offsets("+3d, 1m, 5d, 0d")
    assert [o.code for o in offsets] == ["1m", "5d", "0d", "+3d"]
    assert offsets[-1].reminder_date(D(2027, 1, 10)) == D(2027, 1, 13)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("3x", "not an offset"),
        ("1m,,abc", "not an offset"),
        ("5d,5d", "more than once"),
        ("1m,30d", "swap order"),
        ("2m,60d", "swap order"),
        ("1000d", "not an offset"),
    ],
)
def test_bad_offsets_are_refused(text, message):
    with pytest.raises(InvalidOffsets, match=message):
        parse_offsets(text)


@pytest.mark.parametrize(
    ("code", "expiry", "reminder"),
    [
        ("3m", D(2027, 5, 20), D(2027, 2, 20)),
        ("2m", D(2027, 5, 20), D(2027, 3, 20)),
        ("1m", D(2027, 5, 20), D(2027, 4, 20)),
        ("15d", D(2027, 5, 20), D(2027, 5, 5)),
        ("5d", D(2027, 5, 20), D(2027, 5, 15)),
        ("4d", D(2027, 5, 20), D(2027, 5, 16)),
        ("3d", D(2027, 5, 20), D(2027, 5, 17)),
        ("2d", D(2027, 5, 20), D(2027, 5, 18)),
        ("1d", D(2027, 5, 20), D(2027, 5, 19)),
        ("0d", D(2027, 5, 20), D(2027, 5, 20)),
        ("+3d", D(2027, 5, 20), D(2027, 5, 23)),
        # Month ends clamp.
        ("1m", D(2027, 3, 31), D(2027, 2, 28)),
        ("1m", D(2027, 3, 30), D(2027, 2, 28)),
        ("1m", D(2027, 3, 29), D(2027, 2, 28)),
        ("1m", D(2028, 3, 31), D(2028, 2, 29)),  # leap year
        ("1m", D(2028, 3, 29), D(2028, 2, 29)),
        ("3m", D(2027, 5, 31), D(2027, 2, 28)),
        ("2m", D(2027, 4, 30), D(2027, 2, 28)),
        ("1m", D(2028, 2, 29), D(2028, 1, 29)),
        ("3m", D(2028, 2, 29), D(2027, 11, 29)),
        ("1m", D(2027, 1, 31), D(2026, 12, 31)),  # across a year
    ],
)
def test_each_offset_and_month_ends(code, expiry, reminder):
    assert Offset.parse(code).reminder_date(expiry) == reminder


def days(start: dt.date, end: dt.date):
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


@pytest.mark.parametrize(
    "expiry",
    [
        D(2027, 3, 31),
        D(2027, 3, 30),
        D(2027, 3, 29),
        D(2028, 2, 29),
        D(2028, 3, 31),
        D(2027, 2, 28),
        D(2027, 8, 31),
        D(2027, 1, 1),
        D(2027, 5, 17),
    ],
)
def test_a_daily_job_sends_every_reminder_exactly_once(expiry):
    """Run the calendar every day from 4 months before to 1 week after: each offset fires on
    exactly one day, the right one, whatever the month lengths."""
    offsets = parse_offsets(DEFAULT_OFFSETS + ",+3d")
    fired = {}
    for today in days(expiry - dt.timedelta(days=130), expiry + dt.timedelta(days=7)):
        offset = due_offset(offsets, expiry, today, catchup_days=0)
        if offset is not None and offset.reminder_date(expiry) == today:
            assert offset.code not in fired, f"{offset} twice"
            fired[offset.code] = today
    assert set(fired) == {o.code for o in offsets}
    for offset in offsets:
        assert fired[offset.code] == offset.reminder_date(expiry)


def test_catch_up_sends_the_most_recent_missed_reminder_only():
    expiry = D(2027, 5, 20)
    # The job did not run on the 15d (May 5) date; it runs again on May 8.
    assert due_offset(OFFSETS, expiry, D(2027, 5, 8), catchup_days=7).code == "15d"
    # Down from the 1m date (Apr 20) until May 6: 1m was missed, 15d (May 5) is the current one.
    assert due_offset(OFFSETS, expiry, D(2027, 5, 6), catchup_days=7).code == "15d"
    # More than 7 days late: nothing.
    assert due_offset(OFFSETS, expiry, D(2027, 5, 13), catchup_days=7) is None
    # Catch-up 0: only on the exact day.
    assert due_offset(OFFSETS, expiry, D(2027, 5, 6), catchup_days=0) is None
    assert due_offset(OFFSETS, expiry, D(2027, 5, 5), catchup_days=0).code == "15d"
    # Before the first reminder date: nothing.
    assert due_offset(OFFSETS, expiry, D(2027, 2, 19), catchup_days=7) is None


@pytest.mark.parametrize("catchup", [0, 1, 7, 30])
@pytest.mark.parametrize("offsets_text", [DEFAULT_OFFSETS, DEFAULT_OFFSETS + ",+3d", "1m,5d"])
def test_due_ranges_match_the_per_domain_rule(catchup, offsets_text):
    """The range queries find exactly the domains due_offset says are due (brute force over
    every expiry date around each day of a year, month ends and a leap day included)."""
    offsets = parse_offsets(offsets_text)
    for today in [
        D(2027, 1, 31),
        D(2027, 2, 28),
        D(2028, 2, 29),
        D(2027, 3, 1),
        D(2027, 7, 15),
        D(2027, 12, 31),
        D(2028, 3, 30),
    ]:
        expected = {}
        for expiry in days(today - dt.timedelta(days=60), today + dt.timedelta(days=130)):
            offset = due_offset(offsets, expiry, today, catchup)
            if offset is not None:
                expected[expiry] = offset.code
        found = {}
        for expiry_range in due_ranges(offsets, today, catchup):
            for expiry in days(expiry_range.first, expiry_range.last):
                assert expiry not in found, "ranges overlap"
                found[expiry] = expiry_range.offset.code
        assert found == expected, today


@pytest.mark.parametrize(
    ("expiry", "today", "code", "label"),
    [
        (D(2027, 5, 20), D(2027, 5, 15), "5d", "5 days"),
        (D(2027, 5, 20), D(2027, 5, 19), "1d", "1 day"),
        (D(2027, 5, 20), D(2027, 5, 20), "0d", "today"),
        (D(2027, 5, 20), D(2027, 3, 20), "2m", "2 months"),
        (D(2027, 5, 20), D(2027, 4, 20), "1m", "1 month"),
        (D(2027, 5, 20), D(2027, 4, 23), "1m", "27 days"),  # late: the true number of days
        (D(2027, 5, 20), D(2027, 5, 23), "+3d", "expired 3 days ago"),
        (D(2027, 5, 20), D(2027, 5, 21), "+1d", "expired 1 day ago"),
    ],
)
def test_remaining_label(expiry, today, code, label):
    assert describe(expiry, today, Offset.parse(code), "en")[0] == label.removeprefix("expired ")


def test_phrases_in_both_languages():
    expiry, today = D(2027, 5, 20), D(2027, 5, 15)
    assert describe(expiry, today, Offset.parse("5d"), "en") == ("5 days", "expire in 5 days")
    assert describe(expiry, today, Offset.parse("5d"), "nl") == ("5 dagen", "verlopen over 5 dagen")
    assert describe(expiry, expiry, Offset.parse("0d"), "en") == ("today", "expire today")
    assert describe(expiry, D(2027, 5, 23), Offset.parse("+3d"), "en")[1] == "expired 3 days ago"
    assert (
        describe(expiry, D(2027, 3, 20), Offset.parse("2m"), "nl")[1] == "verlopen over 2 maanden"
    )
    # Unknown languages fall back to English.
    assert describe(expiry, today, Offset.parse("5d"), "fr")[1] == "expire in 5 days"
