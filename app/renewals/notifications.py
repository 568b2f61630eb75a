"""Emails to sales contacts about what their customers decided."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from renewal_reminder.models import Relation
from renewal_reminder.renewals import email_templates, mailer
from renewal_reminder.renewals.decisions import RecordedDecisions

log = logging.getLogger(__name__)

QUEUE_PATH = "/decisions/list/?_flt_0_state=queued"
CHANNEL_NAMES = {
    "selection_page": "renewal selection page",
    "confirmation_code": "public confirmation page",
    "sales": "sales workspace",
    "automatic": "automatic job",
}


def sales_contact_of(relation: Relation):
    """The relation's sales contact, or its reseller's when it has none."""
    if relation.sales_contact is not None:
        return relation.sales_contact
    if relation.parent is not None:
        return relation.parent.sales_contact
    return None


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
) -> mailer.SendResult | None:
    """One email to the relation's sales contact listing the domains to renew (with years) and
    to decline. Nothing to tell, or no sales contact: no email (the queue shows them anyway).
    A failure is logged and returned; the decisions themselves are already saved."""
    contact = sales_contact_of(relation)
    if not recorded.changed or contact is None or not contact.email:
        if recorded.changed:
            log.warning("relation #%s has no sales contact to notify", relation.number)
        return None

    def line(domain, years=None):
        client = domain.relation.name if domain.relation_id != relation.id else None
        return decision_line(domain.unicode_name, domain.expiry_date, client, years)

    source = email_templates.template_for(session, email_templates.SALES_DECISIONS, "en")

    def render() -> email_templates.RenderedEmail:  # called by the Outbox: failures are results
        context = sales_decisions_context(
            relation_number=relation.number,
            relation_name=relation.name,
            sales_name=contact.first_name or contact.username,
            sales_email=contact.email,
            decided_by=decided_by,
            channel=channel,
            renew=[line(domain, years) for domain, years in recorded.renew],
            decline=[line(domain) for domain in recorded.decline],
            queue_url=settings.url(QUEUE_PATH),
        )
        return email_templates.render(source, context)

    [result] = mailer.send_all(
        mail_state, [mailer.OutgoingEmail(contact.email, render)], settings.sender
    )
    if not result.ok:
        log.error("could not notify %s of decisions: %s", contact.email, result.error)
    return result
