"""Validation of what people type: domain names (IDN included), email addresses, periods,
expiry dates.

Forms, the CSV import, the CLI and the renewal pages all call these, so one rule holds
everywhere and every error message reads the same.
"""

from __future__ import annotations

import datetime as dt
import re

import idna
from email_validator import EmailNotValidError, validate_email

from renewal_reminder.i18n import gettext as _

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
#: Plain ASCII names with an alphabetic TLD and no "--" at label positions 3-4 (which would
#: make them punycode or reserved): valid as they are, without the (slow) IDNA round trip.
_PLAIN_NAME = re.compile(r"^(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")


class InvalidValue(ValueError):
    """The input is not acceptable; the message says why, for people."""


class InvalidDomainName(InvalidValue):
    """The text is not a registrable domain name."""


def normalize_domain_name(raw: str) -> str:
    """Return the lower-case ASCII (punycode) form of ``raw`` or raise ``InvalidDomainName``.

    Accepts Unicode names (``bücher.de`` becomes ``xn--bcher-kva.de``) and ignores surrounding
    whitespace and one trailing dot. Requires at least two labels and an alphabetic TLD.
    """
    text = (raw or "").strip().rstrip(".")
    if not text:
        raise InvalidDomainName("a domain name is required")
    fast = text.lower()
    if (
        fast.isascii()
        and len(fast) <= 253
        and _PLAIN_NAME.match(fast)
        and not any(label[2:4] == "--" for label in fast.split("."))
    ):
        return fast
    if any(ch.isspace() for ch in text):
        raise InvalidDomainName(f"{raw!r} contains whitespace")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomainName(f"{raw!r} is not a valid domain name ({exc})") from None
    ascii_name = ascii_name.lower()
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise InvalidDomainName(f"{raw!r} needs a name and a top-level domain, e.g. example.com")
    if len(ascii_name) > 253:
        raise InvalidDomainName(f"{raw!r} is longer than 253 characters")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidDomainName(f"{raw!r} has an invalid label {label!r}")
    tld = labels[-1]
    if not (tld.isalpha() or tld.startswith("xn--")):
        raise InvalidDomainName(f"{raw!r} has an invalid top-level domain {tld!r}")
    return ascii_name


MIN_YEARS = 1
MAX_YEARS = 10

#: The earliest expiry date accepted: nothing in a registrar's portfolio is older.
EARLIEST_EXPIRY = dt.date(1985, 1, 1)
#: The latest accepted expiry date is today plus this many years: the 10-year registration
#: cap, plus one year of slack for a registrar's rounding and a late import.
EXPIRY_YEARS_AHEAD = MAX_YEARS + 1


def latest_expiry(today: dt.date) -> dt.date:
    """The latest expiry date accepted on ``today`` (29 February becomes 28 February)."""
    if today.year + EXPIRY_YEARS_AHEAD > dt.MAXYEAR:
        return dt.date.max
    try:
        return today.replace(year=today.year + EXPIRY_YEARS_AHEAD)
    except ValueError:
        return today.replace(year=today.year + EXPIRY_YEARS_AHEAD, day=28)


def check_expiry_date(value: dt.date, today: dt.date) -> dt.date:
    """An expiry date from 1985-01-01 to ``today`` + 11 years, or ``InvalidValue``.

    The one rule for the portfolio import, the Admin forms and the queue's manual date: far
    dates (0001-01-01, 9999-12-31) are typing or export errors, and date arithmetic on them
    would run off the calendar."""
    latest = latest_expiry(today)
    if not EARLIEST_EXPIRY <= value <= latest:
        raise InvalidValue(
            f"the expiry date {value.isoformat()} is out of range: it must be from "
            f"{EARLIEST_EXPIRY.isoformat()} to {latest.isoformat()} (today + "
            f"{EXPIRY_YEARS_AHEAD} years)"
        )
    return value


def normalize_email(raw: str) -> str:
    """Return a syntactically valid address (domain part normalised) or raise ``InvalidValue``.

    Deliverability is not checked: that needs DNS, and the mail server reports it anyway.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidValue("an email address is required")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"{raw!r} is not a valid email address ({exc})") from None


def parse_years(raw: object) -> int:
    """A renewal period: an integer number of years from 1 to 10 (EPP and registries cap 10)."""
    if isinstance(raw, bool):
        raise InvalidValue(_("%(value)s is not a number of years", value=repr(raw)))
    try:
        years = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise InvalidValue(_("%(value)s is not a number of years", value=repr(raw))) from None
    if not MIN_YEARS <= years <= MAX_YEARS:
        raise InvalidValue(
            _(
                "the period must be %(low)s to %(high)s years, not %(years)s",
                low=MIN_YEARS,
                high=MAX_YEARS,
                years=years,
            )
        )
    return years
