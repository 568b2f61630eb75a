"""Alerts about confirmed renewals left unexecuted: no confirmed renewal lapses unnoticed.

A confirmed renewal still open (queued, or failed) on its due-by date (``deadlines.due_by``)
escalates, each level once per decision:

- ``sales``, from the due-by date on: an email to the relation's sales contact (its reseller's
  when it has none, ``notifications.sales_contact_of``). A relation without an active sales
  contact with an address sends it to the escalation address instead: never dropped;
- ``escalation``, from the expiry date on: an email to ``ESCALATION_EMAIL`` (an operations
  mailbox), or to the active Admins when that is not set.

The removal and renewal job sends them (``jobs.run_processing``), after it has executed what it
could. Exactly once, even with two runs at the same moment: an alert is sent only by the run
whose claim wrote (or retook) its ``EscalationLog`` row, unique per decision and level
(``renewals.claims``). A failed alert (refused, server down, no recipient at all, template
error) is retried by the next run; a claim left ``sending`` for ``STALE_CLAIM`` is retaken.
Alerts to the same people at the same level travel in one email.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from renewal_reminder.models import (
    Decision,
    Domain,
    DomainStatus,
    EscalationLevel,
    EscalationLog,
    EscalationStatus,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import deadlines, email_templates, mailer
from renewal_reminder.renewals.claims import (
    claim,
    outcome_update,
    record_outcomes,
)
from renewal_reminder.renewals.notifications import (
    Audience,
    admin_emails,
    sales_contact_of,
    sales_recipients,
)
from renewal_reminder.renewals.notifications import (
    queue_path as queue_path_for,
)
from renewal_reminder.renewals.processing import OPEN_STATES

log = logging.getLogger(__name__)

#: A claim this old belongs to a run that died before recording the result: take it over.
STALE_CLAIM = dt.timedelta(minutes=30)
QUEUE_PATH = "/queue/"
_RETRYABLE = (EscalationStatus.failed,)
NO_RECIPIENT = (
    "no escalation address: set RENEWALS_ESCALATION_EMAIL (ESCALATION_EMAIL) or give an "
    "active Admin an email address"
)


# --- what is due --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One decision at one level, and who it goes to."""

    decision_id: int
    level: EscalationLevel
    recipients: tuple[str, ...]
    #: The name to greet (the sales contact's), or "" for the escalation address.
    recipient_name: str
    #: A sales-level alert that goes to the escalation address: the relation has no sales contact.
    no_sales_contact: bool
    line: dict


def alert_line(
    *,
    name: str,
    expiry_date: dt.date,
    today: dt.date,
    lead_days: int,
    years: int | None,
    state: str,
    message: str | None,
    attempts: int,
    relation_number: int,
    relation_name: str,
    sales_name: str | None,
    sales_email: str | None,
) -> dict:
    """One renewal of an alert email (and of the digest's "due" section): the expiry date, days
    left, due-by date and, when it failed, the registrar's message and attempts so far."""
    due = deadlines.deadline(expiry_date, today, lead_days)
    if due.days_left > 1:
        when = f"in {due.days_left} days"
    elif due.days_left == 1:
        when = "tomorrow"
    elif due.days_left == 0:
        when = "today"
    else:
        when = f"expired {-due.days_left} day{'s' if due.days_left != -1 else ''} ago"
    return {
        "name": name,
        "years": years,
        "expiry_date": expiry_date.isoformat(),
        "days_left": due.days_left,
        "when": when,
        "due_by": due.due_by.isoformat(),
        "overdue": due.overdue,
        "failed": str(state) == "failed",
        "message": message or "",
        "attempts": attempts,
        "relation": {"number": relation_number, "name": relation_name},
        "sales_contact": {"name": sales_name, "email": sales_email} if sales_email else None,
    }


def due_renewals(today: dt.date, lead_days: int) -> Select:
    """``SELECT`` of the confirmed renewals still open (queued or failed) whose due-by date is
    today or past (``deadlines.due_by``), soonest expiry first; joined to ``Domain``. What
    escalates, and what the sales digest opens with."""
    # due_by(expiry) <= today  <=>  expiry <= today + lead_days
    latest_expiry = deadlines.due_by(today, -lead_days)
    return (
        select(RenewalDecision)
        .join(Domain, Domain.id == RenewalDecision.domain_id)
        .where(
            RenewalDecision.state.in_(OPEN_STATES),
            RenewalDecision.decision == Decision.renew,
            RenewalDecision.expiry_date == Domain.expiry_date,
            RenewalDecision.expiry_date <= latest_expiry,
            Domain.status == DomainStatus.renewal_confirmed,
        )
        .order_by(RenewalDecision.expiry_date, RenewalDecision.id)
    )


def open_renewals_due(session: Session, today: dt.date, lead_days: int) -> list[RenewalDecision]:
    """``due_renewals`` with their domains and relations loaded."""
    query = due_renewals(today, lead_days).options(
        joinedload(RenewalDecision.domain).joinedload(Domain.relation).joinedload(Relation.parent)
    )
    return list(session.scalars(query).unique())


def escalation_recipients(session: Session, settings: deadlines.DeadlineSettings) -> list[str]:
    """``ESCALATION_EMAIL``, or the addresses of the active Admins when it is not set."""
    if settings.escalation_emails:
        return list(settings.escalation_emails)
    return admin_emails(session)


def due_alerts(
    session: Session,
    today: dt.date,
    settings: deadlines.DeadlineSettings,
    mail: mailer.MailSettings,
) -> list[Alert]:
    """Every alert due today (sent ones included: the caller leaves those out). The sales-level
    alert goes where the relation's other sales notifications go
    (``notifications.sales_recipients``: its sales contact, else SALES_FALLBACK_EMAIL, else the
    Admins), and to the escalation address only when there is nobody at all."""
    decisions = open_renewals_due(session, today, settings.lead_days)
    if not decisions:
        return []
    escalate_to = tuple(escalation_recipients(session, settings))
    alerts = []
    for decision in decisions:
        domain = decision.domain
        contact = sales_contact_of(domain.relation)
        line = alert_line(
            name=domain.unicode_name,
            expiry_date=decision.expiry_date,
            today=today,
            lead_days=settings.lead_days,
            years=decision.years,
            state=decision.state,
            message=decision.message,
            attempts=decision.attempts or 0,
            relation_number=domain.relation.number,
            relation_name=domain.relation.name,
            sales_name=(contact.first_name or contact.username) if contact else None,
            sales_email=contact.email if contact else None,
        )
        who = sales_recipients(session, domain.relation, mail)
        if who.audience is Audience.sales_contact:
            sales = Alert(decision.id, EscalationLevel.sales, who.addresses, who.name, False, line)
        else:
            to = who.addresses or escalate_to
            sales = Alert(decision.id, EscalationLevel.sales, to, "", True, line)
        alerts.append(sales)
        if today >= decision.expiry_date:
            alerts.append(
                Alert(decision.id, EscalationLevel.escalation, escalate_to, "", False, line)
            )
    return alerts


def escalation_alert_context(
    *,
    level: str,
    recipient_name: str,
    no_sales_contact: bool,
    today: dt.date,
    lead_days: int,
    alerts: list[dict],
    mail: mailer.MailSettings,
) -> dict:
    """What an escalation-alert template can use: plain values only (it renders in a sandbox).
    ``alerts`` are ``alert_line`` dicts; ``level`` is "sales" (due by today) or "escalation"
    (the expiry date reached); ``no_sales_contact``: a sales-level alert sent to the escalation
    address because the relation has no sales contact."""
    relations = {alert["relation"]["number"] for alert in alerts}
    # All for one relation: its own part of the queue; else the queue, most urgent first.
    queue_path = queue_path_for(relations.pop()) if len(relations) == 1 else QUEUE_PATH
    return {
        "level": str(level),
        "recipient_name": recipient_name,
        "no_sales_contact": no_sales_contact,
        "today": today.isoformat(),
        "lead_days": lead_days,
        "alerts": list(alerts),
        "count": len(alerts),
        "queue_url": mail.url(queue_path),
        "base_url": mail.base_url,
    }


def send_operations_alarm(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    settings: deadlines.DeadlineSettings,
    subject: str,
    text: str,
) -> str | None:
    """One plain email to the escalation address (``escalation_recipients``: ESCALATION_EMAIL,
    else the active Admins) about the product itself, not a renewal: e.g. the registrar sync
    refused to delete half the portfolio on one registry's word. Returns the error (None:
    sent); the caller reports it. Not claimed or logged: the caller's run sends it once."""
    recipients = escalation_recipients(session, settings)
    if not recipients:
        return NO_RECIPIENT
    body = f"{text}\n\n{mail.base_url}\n"
    html = "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n"))
    rendered = email_templates.RenderedEmail(subject=subject, text=body, html=html)
    with mailer.Outbox(mail_state, mail.sender) as outbox:
        result = outbox.send_one(
            mailer.OutgoingEmail(recipients[0], rendered, bcc=list(recipients[1:]))
        )
    return result.error


# --- the run ------------------------------------------------------------------------------------


@dataclass
class AlertRunSummary:
    run_date: dt.date
    dry_run: bool = False
    sent: int = 0
    failed: int = 0
    #: Sent before, or being sent by another run right now.
    already: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __str__(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        return f"overdue renewal alerts: {verb} {self.sent}, failed {self.failed}"


def send_alerts(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    today: dt.date,
    settings: deadlines.DeadlineSettings,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
) -> AlertRunSummary:
    """Send the alerts due ``today`` that were not sent before; safe to run again (a failed
    one is retried) or concurrently (each once). Counts alerts (decision and level), not
    emails."""
    summary = AlertRunSummary(today, dry_run)
    say = echo or (lambda _text: None)
    now = utcnow()
    alerts = due_alerts(session, today, settings, mail)
    done, retry_ids = _logged(session, alerts, now)
    pending = [alert for alert in alerts if (alert.decision_id, alert.level) not in done]
    summary.already = len(alerts) - len(pending)
    session.commit()  # end the read transaction before claiming
    if dry_run:
        for alert in pending:
            summary.sent += 1
            say(f"would alert {', '.join(alert.recipients) or '(nobody)'}: {_describe(alert)}")
        return summary
    if not pending:
        return summary
    owned = _claim(session, today, pending, retry_ids, uuid.uuid4().hex)
    mine = [alert for alert in pending if (alert.decision_id, alert.level) in owned]
    summary.already += len(pending) - len(mine)
    source = email_templates.template_for(session, email_templates.ESCALATION_ALERT, "en")
    with mailer.Outbox(mail_state, mail.sender) as outbox:
        for group in _grouped(mine):
            rows = [owned[(alert.decision_id, alert.level)] for alert in group]
            first = group[0]
            recipient = ", ".join(first.recipients)[:2000] or "(nobody)"
            if not first.recipients:
                result_error = NO_RECIPIENT
            else:
                outgoing = mailer.OutgoingEmail(
                    first.recipients[0],
                    _renderer(source, group, today, settings, mail),
                    bcc=list(first.recipients[1:]),
                )
                result_error = outbox.send_one(outgoing).error
            outcome = (
                {"status": EscalationStatus.sent, "error": None, "sent_at": utcnow()}
                if result_error is None
                else {"status": EscalationStatus.failed, "error": result_error, "sent_at": None}
            )
            record_outcomes(
                session,
                _RECORD,
                [
                    {
                        "log_id": log_id,
                        "attempts": attempts + 1,
                        "recipient": recipient,
                        "run_date": today,
                    }
                    | outcome
                    for log_id, attempts in rows
                ],
            )
            for alert in group:
                if result_error is None:
                    summary.sent += 1
                    say(f"alerted {recipient}: {_describe(alert)}")
                else:
                    summary.failed += 1
                    summary.problems.append(f"alert {_describe(alert)}: {result_error}")
    log.info("%s", summary)
    return summary


def _describe(alert: Alert) -> str:
    line = alert.line
    return f"{line['name']} ({alert.level}, expires {line['expiry_date']})"


def _grouped(alerts: list[Alert]) -> list[list[Alert]]:
    """One email per level, reason and set of recipients."""
    groups: dict[tuple, list[Alert]] = {}
    for alert in alerts:
        key = (alert.level, alert.no_sales_contact, alert.recipients, alert.recipient_name)
        groups.setdefault(key, []).append(alert)
    return list(groups.values())


def _renderer(source, group, today, settings, mail) -> Callable[[], email_templates.RenderedEmail]:
    """The alert email, rendered when ``Outbox`` builds it (so a failure is its own)."""
    first = group[0]

    def render() -> email_templates.RenderedEmail:
        context = escalation_alert_context(
            level=first.level,
            recipient_name=first.recipient_name,
            no_sales_contact=first.no_sales_contact,
            today=today,
            lead_days=settings.lead_days,
            alerts=[alert.line for alert in group],
            mail=mail,
        )
        return email_templates.render(source, context)

    return render


#: One log row's outcome.
_RECORD = outcome_update(EscalationLog.__table__, "run_date")


def _logged(
    session: Session, alerts: list[Alert], now: dt.datetime
) -> tuple[set[tuple[int, EscalationLevel]], dict[tuple[int, EscalationLevel], int]]:
    """``(alerts done, {alert: log id to retry})``: done is sent, or being sent by a live run;
    a failed row, or a claim abandoned for ``STALE_CLAIM``, is retried."""
    done, retry = set(), {}
    ids = sorted({alert.decision_id for alert in alerts})
    for start in range(0, len(ids), 900):
        rows = session.execute(
            select(
                EscalationLog.decision_id,
                EscalationLog.level,
                EscalationLog.id,
                EscalationLog.status,
                EscalationLog.claimed_at,
            ).where(EscalationLog.decision_id.in_(ids[start : start + 900]))
        )
        for decision_id, level, log_id, status, claimed_at in rows:
            if status in _RETRYABLE or (
                status is EscalationStatus.sending
                and (claimed_at is None or claimed_at < now - STALE_CLAIM)
            ):
                retry[(decision_id, level)] = log_id
            else:
                done.add((decision_id, level))
    return done, retry


def _claim(
    session: Session,
    today: dt.date,
    alerts: list[Alert],
    retry_ids: dict[tuple[int, EscalationLevel], int],
    token: str,
) -> dict[tuple[int, EscalationLevel], tuple[int, int]]:
    """Claim the alerts for this run; return ``{(decision id, level): (log id, attempts)}`` of
    those this run now owns (a concurrent run's claims are left out). Commits."""
    now = utcnow()
    new_rows, retry = [], []
    for alert in alerts:
        key = (alert.decision_id, alert.level)
        if key in retry_ids:
            retry.append(retry_ids[key])
            continue
        new_rows.append(
            {
                "decision_id": alert.decision_id,
                "level": alert.level,
                "run_date": today,
                "recipient": ", ".join(alert.recipients)[:2000] or "(nobody)",
            }
        )
    return claim(
        session,
        EscalationLog,
        key_columns=["decision_id", "level"],
        new_rows=new_rows,
        retry_ids=retry,
        token=token,
        now=now,
        retryable=_RETRYABLE,
        sending=EscalationStatus.sending,
        stale_before=now - STALE_CLAIM,
    )


__all__ = [
    "Alert",
    "AlertRunSummary",
    "alert_line",
    "due_alerts",
    "escalation_alert_context",
    "escalation_recipients",
    "due_renewals",
    "open_renewals_due",
    "send_alerts",
    "send_operations_alarm",
]
