"""The registrar interface: what the sales queue and the renewal job ask of a registrar.

The operations are the ones a reseller performs for a renewal decision: ``renew`` (confirmed),
``deactivate`` or ``delete`` (declined), and ``info`` (what the registry says now). They are
modelled on EPP (RFC 5730/5731) so that an EPP backend is a thin translation:

- ``renew(name, current_expiry, years)`` takes exactly EPP's ``<domain:curExpDate>`` and
  ``<domain:period unit="y">``. The current expiry is the date the renewal was *decided on*,
  which makes a renewal idempotent: once it has been executed the registry's date has moved on,
  so executing the same renewal again (a double click, two sales contacts at once) cannot
  extend the domain a second time.
- A retry after a lost answer (a timeout) must not fail either. The rule every backend follows:
  if the registry's expiry is already ``current_expiry + years``, the renewal is reported as
  done (``already_done=True``) with that date; any other mismatch is EPP's 2306. (The registry's
  own auto-renew looks the same; either way the domain now runs until the decided date.)
- ``delete`` and ``deactivate`` are idempotent in the same way: a domain already deleted (in
  its redemption period, EPP status ``pendingDelete``) or already on hold is not an error.
- Failures raise ``RegistrarError`` with the EPP result code when there is one, and a message
  a sales contact can act on.

Periods are 1 to 10 years. EPP allows 1-99, but gTLD registries cap the registration term at
10 years from today, so longer periods could never succeed.
"""

from __future__ import annotations

import datetime as dt
import functools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from renewal_reminder.renewals.calendar import shifted
from renewal_reminder.renewals.validation import MAX_YEARS, MIN_YEARS

# EPP result codes (RFC 5730 section 3) that the backends raise or an EPP server commonly answers.
VALUE_RANGE_ERROR = 2004
VALUE_SYNTAX_ERROR = 2005
OBJECT_DOES_NOT_EXIST = 2303
STATUS_PROHIBITS_OPERATION = 2304
VALUE_POLICY_ERROR = 2306
COMMAND_FAILED = 2400

EPP_RESULTS = {
    VALUE_RANGE_ERROR: "Parameter value range error",
    VALUE_SYNTAX_ERROR: "Parameter value syntax error",
    OBJECT_DOES_NOT_EXIST: "Object does not exist",
    STATUS_PROHIBITS_OPERATION: "Object status prohibits operation",
    VALUE_POLICY_ERROR: "Parameter value policy error",
    COMMAND_FAILED: "Command failed",
}

#: The longest registration term a registry accepts, counted from today.
MAX_TERM_YEARS = 10

# EPP status values (RFC 5731 section 2.3) the backends use.
STATUS_OK = "ok"
STATUS_CLIENT_HOLD = "clientHold"  # deactivated: the registrar took the name out of DNS
STATUS_SERVER_HOLD = "serverHold"
STATUS_PENDING_DELETE = "pendingDelete"  # deleted: in the redemption grace period


class RegistrarError(Exception):
    """The registrar refused or failed an operation.

    ``code`` is the EPP result code (None when there is none, e.g. a timeout or a date typed
    by hand). ``str(err)`` reads "2306 Parameter value policy error: <detail>"; an EPP backend
    passes the server's ``<msg>`` as ``summary`` and its ``<reason>`` as ``detail``.
    """

    def __init__(self, detail: str, code: int | None = None, *, summary: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.summary = summary if summary is not None else EPP_RESULTS.get(code or 0, "")

    def __str__(self) -> str:
        head = " ".join(part for part in (str(self.code or ""), self.summary) if part)
        if head and self.detail:
            return f"{head}: {self.detail}"
        return head or self.detail


class RegistrarUnavailable(RegistrarError):
    """The registry cannot be reached, or refuses this registrar's session (no connection, a
    failed TLS handshake, no greeting, a refused login).

    Not about one domain: every further command would fail the same way (and a refused login,
    repeated per domain, can get the registrar's account locked). A backend raises it again
    without reconnecting for the rest of the session, and a batch (the registrar sync, the
    automated job, a bulk execution) stops at the first one instead of trying every domain."""


@dataclass(frozen=True)
class DomainInfo:
    """What the registry says about a domain: its expiry date and EPP statuses."""

    name: str
    expiry_date: dt.date
    statuses: frozenset[str] = frozenset({STATUS_OK})

    @property
    def deleted(self) -> bool:
        return STATUS_PENDING_DELETE in self.statuses

    @property
    def on_hold(self) -> bool:
        return bool({STATUS_CLIENT_HOLD, STATUS_SERVER_HOLD} & self.statuses)


@dataclass(frozen=True)
class RenewResult:
    """A renewal's outcome: the new expiry date, and whether an earlier call had already done it."""

    name: str
    new_expiry: dt.date
    already_done: bool = False


class RegistrarBackend(ABC):
    """A registrar: one module per kind (manual, simulated, EPP, a registrar's own API)."""

    #: The REGISTRAR_BACKEND value that selects it.
    name: str = ""
    #: True if the backend performs operations itself, so a job may execute renewals
    #: unattended. False (manual): a person acts at the registrar and confirms it here.
    can_execute: bool = True

    @abstractmethod
    def renew(
        self,
        name: str,
        current_expiry: dt.date,
        years: int,
        *,
        new_expiry: dt.date | None = None,
    ) -> RenewResult:
        """Renew ``name`` for ``years`` from ``current_expiry``, the expiry it was decided on.

        ``new_expiry`` is the date the registrar shows, entered by a person; backends that
        cannot execute require it, the others ignore it (the registry computes the date).
        Raises ``RegistrarError``; see the module docstring for the idempotency rule.
        """

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete ``name`` (a declined renewal). Already deleted is not an error."""

    @abstractmethod
    def deactivate(self, name: str) -> None:
        """Take ``name`` out of DNS without deleting it. Already deactivated is not an error."""

    @abstractmethod
    def info(self, name: str) -> DomainInfo:
        """The registry's current expiry date and statuses for ``name``."""

    def reactivate(self, name: str) -> None:
        """Put a deactivated ``name`` back in DNS. Not deactivated is not an error.

        Not abstract, so that existing backends keep working; they refuse it until they
        implement it."""
        raise RegistrarError(f"the {self.name or 'registrar'} backend cannot reactivate {name}")

    @contextmanager
    def session(self) -> Iterator[None]:
        """One registry session for a batch of operations (a job run, a bulk execution).

        An EPP backend logs in once for everything inside the block instead of once per
        operation, as registries expect; operations outside any block get a session of their
        own. Backends without sessions (manual, simulated) need nothing: this is a no-op.
        Blocks may nest; the outermost one ends the session."""
        yield


def check_years(years: int) -> int:
    """A renewal period of 1 to 10 years, else ``RegistrarError`` 2004 (as an EPP server)."""
    if isinstance(years, bool) or not isinstance(years, int):
        raise RegistrarError(
            f"the period must be a whole number of years, not {years!r}", VALUE_RANGE_ERROR
        )
    if not MIN_YEARS <= years <= MAX_YEARS:
        raise RegistrarError(
            f"the period must be {MIN_YEARS} to {MAX_YEARS} years, not {years}",
            VALUE_RANGE_ERROR,
        )
    return years


def renewed_expiry(current_expiry: dt.date, years: int) -> dt.date:
    """The expiry after renewing for ``years``; 29 February becomes 28 February. A date stored
    near the calendar's end stays at ``date.max`` (the term cap then refuses it)."""
    return shifted(current_expiry, relativedelta(years=years))


def latest_allowed_expiry(today: dt.date) -> dt.date:
    """The 10-year cap: no registration may run past this date."""
    return shifted(today, relativedelta(years=MAX_TERM_YEARS))


@functools.lru_cache(maxsize=4096)
def max_renewal_years(expiry_date: dt.date, today: dt.date) -> int:
    """The longest renewal period, 0 to 10 years, that keeps the new expiry within the 10-year
    cap on ``today``: the largest ``years`` that ``check_term_cap(renewed_expiry(expiry_date,
    years), today)`` accepts. A domain not yet expired gets 9 at most; 0 means even one year
    would pass the cap (it already runs more than 9 years ahead).

    The one rule for every place that offers or accepts a period (the selection and
    confirmation pages, the staff forms, recording a decision). Cached: a page of hundreds of
    rows asks it for a few dozen distinct dates, and its calendar arithmetic is not cheap."""
    latest = latest_allowed_expiry(today)
    for years in range(MAX_YEARS, 0, -1):
        if renewed_expiry(expiry_date, years) <= latest:
            return years
    return 0


def check_term_cap(new_expiry: dt.date, today: dt.date) -> None:
    """Raise ``RegistrarError`` 2306 if ``new_expiry`` is beyond the 10-year cap."""
    latest = latest_allowed_expiry(today)
    if new_expiry > latest:
        raise RegistrarError(
            f"the new expiry date {new_expiry} is more than {MAX_TERM_YEARS} years from "
            f"today (at most {latest})",
            VALUE_POLICY_ERROR,
        )
