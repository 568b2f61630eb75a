"""Validation of what people type: domain names (IDN included), email addresses, periods,
expiry dates.

Forms, the CSV import, the CLI and the renewal pages all call these, so one rule holds
everywhere and every error message reads the same.
"""

from __future__ import annotations

import datetime as dt
import re

import idna
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from renewal_reminder.i18n import gettext as _

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
#: Plain ASCII names (lower case) with an alphabetic TLD and no "--" at label positions 3-4
#: (which would make them punycode or reserved): valid as they are, without the (slow) IDNA
#: round trip.
_PLAIN_LABEL = r"(?!-)(?![a-z0-9-]{2}--)[a-z0-9-]{1,63}(?<!-)"
_PLAIN_NAME = re.compile(rf"(?:{_PLAIN_LABEL}\.)+[a-z]{{2,63}}")
_PLAIN_LABEL_RE = re.compile(_PLAIN_LABEL)
_PLAIN_TLD = re.compile(r"[a-z]{2,63}")
#: The Latin-1 letters (both cases): UTS 46 maps each to its ``str.lower()`` and IDNA 2008
#: allows every lower-case one anywhere in a label (PVALID, left-to-right, precomposed, not a
#: combining mark). A name made of these, ASCII letters, digits, hyphens and dots is encoded
#: by lower-casing and Punycode alone (``_fast_domain_name``; tests/test_validation_fast_paths
#: checks every letter against ``idna``).
_LATIN1_LETTERS = frozenset(chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha())
_FAST_NAME_CHARS = _LATIN1_LETTERS | frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
)
#: A plain ASCII address: a dot-atom local part (RFC 5322 atext) at a plain ASCII name.
_ATEXT = r"[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]+"
_PLAIN_LOCAL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")


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
    return _fast_domain_name(text) or _full_domain_name(raw, text)


def _fast_domain_name(text: str) -> str | None:
    """The name for the common cases (plain ASCII, Latin-1 letters), or ``None`` for "ask
    ``_full_domain_name``". An import of 200,000 names spends most of its checking time in the
    full IDNA round trip otherwise. It never decides a refusal: anything unusual (punycode or
    "--" labels, other scripts, digits-only or one-letter TLDs, lengths at the limits) goes
    to the full check, so both accept the same names, with the same result
    (tests/test_validation_fast_paths.py)."""
    lower = text.lower()
    if lower.isascii():
        return lower if len(lower) <= 253 and _PLAIN_NAME.fullmatch(lower) else None
    if not _FAST_NAME_CHARS.issuperset(text):
        return None
    labels = lower.split(".")
    if len(labels) < 2 or not _PLAIN_TLD.fullmatch(labels[-1]):
        return None
    encoded = []
    for label in labels[:-1]:
        if label.isascii():
            if not _PLAIN_LABEL_RE.fullmatch(label):
                return None
        else:
            if label[0] == "-" or label[-1] == "-" or label[2:4] == "--":
                return None
            label = "xn--" + _punycode(label)
            if len(label) > 63:
                return None
        encoded.append(label)
    encoded.append(labels[-1])
    name = ".".join(encoded)
    return name if len(name) <= 253 else None


_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _punycode(label: str) -> str:
    """``label.encode("punycode")`` (RFC 3492) as text, in one function: the standard
    library's codec spends most of its time in generator and call overhead, which for
    45,000 IDN names in an import is a noticeable share of it. The tests compare the two."""
    codepoints = [ord(ch) for ch in label]
    output = [ch for ch in label if ord(ch) < 0x80]
    handled = basic = len(output)
    if basic:
        output.append("-")
    n, delta, bias = 0x80, 0, 72
    for m in sorted({cp for cp in codepoints if cp >= 0x80}):
        delta += (m - n) * (handled + 1)
        n = m
        for cp in codepoints:
            if cp < n:
                delta += 1
            elif cp == n:
                q, k = delta, 36
                while True:
                    t = 1 if k <= bias else 26 if k >= bias + 26 else k - bias
                    if q < t:
                        break
                    output.append(_DIGITS[t + (q - t) % (36 - t)])
                    q = (q - t) // (36 - t)
                    k += 36
                output.append(_DIGITS[q])
                # Bias adaptation (RFC 3492 6.1).
                delta = delta // 700 if handled == basic else delta // 2
                delta += delta // (handled + 1)
                k = 0
                while delta > 455:  # ((base - tmin) * tmax) // 2
                    delta //= 35
                    k += 36
                bias = k + (36 * delta) // (delta + 38)
                delta = 0
                handled += 1
        delta += 1
        n += 1
    return "".join(output)


def _full_domain_name(raw: str, text: str) -> str:
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
    fast = _fast_email(text)
    if fast is not None:
        return fast
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"{raw!r} is not a valid email address ({exc})") from None


def _fast_email(text: str) -> str | None:
    """``validate_email(text).normalized`` for a plain ASCII address, or ``None`` for "ask
    ``validate_email``": a dot-atom local part of at most 64 characters that is not one of the
    role names it lower-cases (``Info@``), at a plain ASCII name (``_PLAIN_NAME``) outside the
    special-use domains it refuses; the result is the local part as typed, ``@``, the name in
    lower case. Quoted local parts, IDN addresses and anything at a limit take the full check
    (tests/test_validation_fast_paths.py)."""
    local, at, domain = text.rpartition("@")
    if not at or len(local) > 64 or len(text) > 254 or not _PLAIN_LOCAL.fullmatch(local):
        return None
    domain = domain.lower()
    if (
        not domain.isascii()
        or len(domain) > 253
        or not _PLAIN_NAME.fullmatch(domain)
        or local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES
        or any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
    ):
        return None
    return f"{local}@{domain}"


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
