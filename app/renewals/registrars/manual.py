"""The manual backend (the default): a person acts at the registrar, then confirms it here.

Nothing is sent anywhere. A renewal is confirmed by entering the new expiry date the
registrar shows, so the date is checked for what a typo would break:

- it must be later than the current expiry (the renewal moved it on);
- it may be at most the period (plus a month) after the current expiry, or after today for
  a domain that already expired: registrars differ there (some count from the renewal day,
  some round to the month's end), but a year more than decided is nearly always a typo;
- it may not pass the 10-year cap that every gTLD registry enforces.

Deactivating or deleting is confirmed as done. ``info`` cannot answer: there is no registry
to ask, and ``can_execute`` is False so the renewal job leaves this backend alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from dateutil.relativedelta import relativedelta

from renewal_reminder.renewals.calendar import shifted
from renewal_reminder.renewals.registrars.base import (
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    RenewResult,
    check_term_cap,
    check_years,
)

#: How much later than the period allows a registrar's date may be (month-end rounding).
TOLERANCE = relativedelta(months=1)


def _years_text(years: int) -> str:
    return "1 year" if years == 1 else f"{years} years"


def check_new_expiry(
    new_expiry: dt.date | None, current_expiry: dt.date, years: int, today: dt.date
) -> dt.date:
    """The entered new expiry date if it fits a renewal of ``years``, else ``RegistrarError``."""
    if new_expiry is None:
        raise RegistrarError("enter the new expiry date that the registrar shows")
    if new_expiry <= current_expiry:
        raise RegistrarError(
            f"the new expiry date {new_expiry} must be later than the current one, {current_expiry}"
        )
    base = max(current_expiry, today)
    latest = shifted(base, relativedelta(years=years) + TOLERANCE)
    if new_expiry > latest:
        raise RegistrarError(
            f"the new expiry date {new_expiry} is more than {_years_text(years)} after "
            f"{base}: check the date, or the period that was renewed"
        )
    check_term_cap(new_expiry, today)
    return new_expiry


class ManualRegistrar(RegistrarBackend):
    name = "manual"
    can_execute = False

    def __init__(self, *, today: Callable[[], dt.date] = dt.date.today):
        self._today = today

    def renew(
        self,
        name: str,
        current_expiry: dt.date,
        years: int,
        *,
        new_expiry: dt.date | None = None,
    ) -> RenewResult:
        check_years(years)
        confirmed = check_new_expiry(new_expiry, current_expiry, years, self._today())
        return RenewResult(name, confirmed)

    def delete(self, name: str) -> None:
        """Done by hand at the registrar; nothing to do here."""

    def deactivate(self, name: str) -> None:
        """Done by hand at the registrar; nothing to do here."""

    def info(self, name: str) -> DomainInfo:
        raise RegistrarError(f"the manual backend cannot look up {name}: check it at the registrar")
