"""Emails to sales contacts about what their customers decided.

Every decision reaches a person: a relation's sales notifications go to its active sales
contact (or its reseller's), else to ``SALES_FALLBACK_EMAIL``, else to the active Admins
(``sales_recipients``, the one rule). When nobody can be emailed, the decisions still wait in
the renewal queue, and the customer is told exactly that (``SalesNotification.informed``).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from renewal_reminder.models import Relation
from renewal_reminder.models.base import user_ids_with_role, user_model
from renewal_reminder.renewals import access, email_templates, mailer
from renewal_reminder.renewals.decisions import RecordedDecisions

log = logging.getLogger(__name__)

#: The renewal queue; ``queue_path`` filters it to one relation (and its clients).
QUEUE_PATH = "/queue/"
CHANNEL_NAMES = {
    "selection_page": "renewal selection page",
    "confirmation_code": "public confirmation page",
    "sales": "sales workspace",
    "automatic": "automatic job",
    "email_link": "renewal selection page, through the personal link in an email",
}
#: How a sales-decisions email greets a shared address (the fallback, the Admins).
TEAM_NAME = "sales team"


def queue_path(relation_number: int) -> str:
    """The renewal queue filtered to one relation's decisions (and its clients')."""
    return f"{QUEUE_PATH}?relation={relation_number}"


def _is_active(user) -> bool:
    return getattr(user, "active", True) is not False


def sales_contact_of(relation: Relation):
    """The relation's sales contact, or its reseller's when it has none; ``None`` when that
    login is deactivated or has no email address (nobody to tell, or to name to customers)."""
    contact = relation.sales_contact
    if contact is None and relation.parent is not None:
        contact = relation.parent.sales_contact
    if contact is None or not _is_active(contact) or not contact.email:
        return None
    return contact


def reply_to_for(relation: Relation, settings: mailer.MailSettings | None) -> str | None:
    """Where a customer's reply to an automated email (a reminder, a confirmation request, a
    receipt) goes: the relation's sales contact (``sales_contact_of``, the rule that names the
    contact in those emails), else ``SALES_FALLBACK_EMAIL``; ``None`` when neither: no
    ``Reply-To``. The Admins, the last resort of ``sales_recipients``, are not a reply address
    for customers."""
    contact = sales_contact_of(relation)
    if contact is not None:
        return contact.email
    return ", ".join(settings.sales_fallback if settings else ()) or None


class Audience(enum.StrEnum):
    """Who a relation's sales notifications go to."""

    sales_contact = "sales_contact"  # its (or its reseller's) active sales contact
    team = "team"  # SALES_FALLBACK_EMAIL, or the active Admins
    nobody = "nobody"  # none of them: the queue is the only place it shows


@dataclass(frozen=True)
class SalesRecipients:
    audience: Audience
    addresses: tuple[str, ...]
    #: How the email greets them.
    name: str = TEAM_NAME


def admin_emails(session: Session) -> list[str]:
    """The email addresses of the active users with the admin role (``AUTH_ROLE_ADMIN``)."""
    users = user_model()
    rows = session.scalars(
        select(users.email)
        .where(
            users.id.in_(user_ids_with_role(access.current_roles().admin)),
            or_(users.active.is_(None), users.active.is_(True)),
        )
        .order_by(users.id)
    )
    return list(dict.fromkeys(email for email in rows if email))


def sales_recipients(
    session: Session, relation: Relation, settings: mailer.MailSettings
) -> SalesRecipients:
    """Who receives ``relation``'s sales notifications (the one rule, see the module)."""
    contact = sales_contact_of(relation)
    if contact is not None:
        return SalesRecipients(
            Audience.sales_contact, (contact.email,), contact.first_name or contact.username
        )
    addresses = settings.sales_fallback or tuple(admin_emails(session))
    if addresses:
        return SalesRecipients(Audience.team, addresses)
    return SalesRecipients(Audience.nobody, ())


@dataclass
class SalesNotification:
    """Whom a notification was for, and what became of each email."""

    audience: Audience
    results: list[mailer.SendResult] = field(default_factory=list)

    @property
    def informed(self) -> Audience:
        """Who was really told: ``nobody`` unless at least one email went out."""
        if any(result.ok for result in self.results):
            return self.audience
        return Audience.nobody


def decision_line(
    name: str, expiry_date: dt.date, client: str | None = None, years: int | None = None
) -> dict:
    """One domain of a sales-decisions email: ``years`` for a renewal, ``client`` (the holder's
    name) when the domain is a reseller's client's."""
    return {"name": name, "years": years, "expiry_date": expiry_date.isoformat(), "client": client}


def sales_decisions_context(
    *,
    relation_number: int,
    relation_name: str,
    sales_name: str,
    sales_email: str,
    decided_by: str,
    channel: str,
    renew: list[dict],
    decline: list[dict],
    queue_url: str,
) -> dict:
    """What a sales-decisions template can use: plain values only (it renders in a sandbox).
    ``renew`` and ``decline`` are ``decision_line`` dicts; ``channel`` a ``DecisionChannel``
    value (shown by its name in ``CHANNEL_NAMES``)."""
    return {
        "sales_contact": {"name": sales_name, "email": sales_email},
        "relation": {"number": relation_number, "name": relation_name},
        "decided_by": decided_by,
        "channel": CHANNEL_NAMES.get(channel, channel),
        "renew": list(renew),
        "decline": list(decline),
        "queue_url": queue_url,
    }


def notify_sales_of_decisions(
    session: Session,
    mail_state,
    settings: mailer.MailSettings,
    relation: Relation,
    recorded: RecordedDecisions,
    decided_by: str,
    channel: str,
) -> SalesNotification | None:
    """One email to each of the relation's sales recipients (``sales_recipients``) listing
    the domains to renew (with years) and to decline, linking to the queue filtered to the
    relation. Nothing to tell: ``None``. Failures are logged and returned; the decisions
    themselves are already saved and wait in the queue either way."""
    if not recorded.changed:
        return None
    recipients = sales_recipients(session, relation, settings)
    if not recipients.addresses:
        log.error(
            "relation #%s has no active sales contact, no SALES_FALLBACK_EMAIL and no active "
            "Admin with an email address: its decisions wait in the renewal queue unannounced",
            relation.number,
        )
        return SalesNotification(Audience.nobody)

    def line(domain, years=None):
        client = domain.relation.name if domain.relation_id != relation.id else None
        return decision_line(domain.unicode_name, domain.expiry_date, client, years)

    source = email_templates.template_for(session, email_templates.SALES_DECISIONS, "en")

    def renderer(address: str):
        def render() -> email_templates.RenderedEmail:  # called by the Outbox: failures are results
            context = sales_decisions_context(
                relation_number=relation.number,
                relation_name=relation.name,
                sales_name=recipients.name,
                sales_email=address,
                decided_by=decided_by,
                channel=channel,
                renew=[line(domain, years) for domain, years in recorded.renew],
                decline=[line(domain) for domain in recorded.decline],
                queue_url=settings.url(queue_path(relation.number)),
            )
            return email_templates.render(source, context)

        return render

    results = mailer.send_all(
        mail_state,
        [mailer.OutgoingEmail(address, renderer(address)) for address in recipients.addresses],
        settings.sender,
    )
    for result in results:
        if not result.ok:
            log.error("could not notify %s of decisions: %s", result.email.to, result.error)
    return SalesNotification(recipients.audience, results)
