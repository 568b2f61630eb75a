"""When a confirmed renewal must be carried out, and when a failed one is tried again.

The rules live here, and only here:

- **due by**: a queued renewal is due ``EXECUTION_LEAD_DAYS`` days before the expiry date it
  was decided for (``due_by``). The queue sorts and marks by it, the sales digest opens with the
  overdue and due-today ones, and the escalation alerts fire on it (``renewals.escalation``);
- **retry**: with an executing backend and ``AUTO_EXECUTE_RENEWALS``, the automated job retries
  a failed renewal ``RENEWAL_RETRY_HOURS`` after the failure, doubling the wait after each
  further failure, until ``RENEWAL_RETRY_ATTEMPTS`` executions in all have failed; then it
  waits for a person (``next_retry_at`` is None).

A run for a given day (``flask renewals process --date D``) works on that day's clock
(``job_clock``), so multi-day scenarios can be run ahead of time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals.validation import InvalidValue, normalize_email


@dataclass(frozen=True)
class DeadlineSettings:
    lead_days: int = 3
    retry_hours: int = 6
    retry_attempts: int = 5
    #: The escalation mailbox(es); empty: the active Admins (``escalation``).
    escalation_emails: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping) -> DeadlineSettings:
        """From the product's settings (``settings.read``), with a clear error for bad values."""
        lead = _whole(config, "EXECUTION_LEAD_DAYS", 3, minimum=0)
        hours = _whole(config, "RENEWAL_RETRY_HOURS", 6, minimum=1)
        attempts = _whole(config, "RENEWAL_RETRY_ATTEMPTS", 5, minimum=1)
        raw = str(config.get("ESCALATION_EMAIL") or "")
        emails = []
        for part in raw.replace(";", ",").split(","):
            if part.strip():
                try:
                    emails.append(normalize_email(part))
                except InvalidValue as exc:
                    raise InvalidValue(f"ESCALATION_EMAIL: {exc}") from None
        return cls(lead, hours, attempts, tuple(dict.fromkeys(emails)))


def _whole(config: Mapping, name: str, default: int, minimum: int) -> int:
    value = config.get(name, default)
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise InvalidValue(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return number


# --- due by ---------------------------------------------------------------------------------


def due_by(expiry_date: dt.date, lead_days: int) -> dt.date:
    """The day a renewal for ``expiry_date`` must be carried out by (the calendar's ends for
    dates stored at its limits)."""
    try:
        return expiry_date - dt.timedelta(days=lead_days)
    except OverflowError:
        return dt.date.min if lead_days > 0 else dt.date.max


@dataclass(frozen=True)
class Deadline:
    expiry_date: dt.date
    due_by: dt.date
    #: Days until the expiry date (negative once it has passed).
    days_left: int
    #: Past its due-by date (not only due today).
    overdue: bool
    due_today: bool

    @property
    def urgent(self) -> bool:
        """Overdue or due today: what the digest opens with and what escalates."""
        return self.overdue or self.due_today

    @property
    def label(self) -> str:
        if self.overdue:
            return "overdue"
        return "due today" if self.due_today else ""


def deadline(expiry_date: dt.date, today: dt.date, lead_days: int) -> Deadline:
    due = due_by(expiry_date, lead_days)
    return Deadline(expiry_date, due, (expiry_date - today).days, today > due, today == due)


# --- retries --------------------------------------------------------------------------------


def job_clock(today: dt.date) -> dt.datetime:
    """The moment a run for ``today`` works at (naive UTC, as every stored time): now, or now
    moved by whole days for a run for another day.

    ``today`` is a calendar date of the server's own clock (``date.today()``, the jobs'
    default), which on a server not set to UTC is for some hours a day another date than
    UTC's: so the days are counted from the local date, never from UTC's."""
    return utcnow() + dt.timedelta(days=(today - dt.date.today()).days)


def retry_delay(failed_attempts: int, settings: DeadlineSettings) -> dt.timedelta:
    """How long after the ``failed_attempts``-th failure the job tries again (doubling)."""
    return dt.timedelta(hours=settings.retry_hours * 2 ** max(failed_attempts - 1, 0))


def next_retry_at(
    attempts: int,
    next_attempt_at: dt.datetime | None,
    failed_at: dt.datetime | None,
    settings: DeadlineSettings,
) -> dt.datetime | None:
    """When the job retries a failed renewal; None once ``retry_attempts`` have failed.

    ``next_attempt_at`` is what the job recorded after its own failed attempt; a failure from
    the queue page has none, and waits ``retry_delay`` after it happened (``failed_at``)."""
    if attempts >= settings.retry_attempts:
        return None
    if next_attempt_at is not None:
        return next_attempt_at
    return (failed_at or utcnow()) + retry_delay(attempts, settings)


__all__ = [
    "Deadline",
    "DeadlineSettings",
    "deadline",
    "due_by",
    "job_clock",
    "next_retry_at",
    "retry_delay",
]
