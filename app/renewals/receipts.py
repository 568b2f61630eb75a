"""Receipts to customers: what they decided, that a domain was renewed, deactivated or deleted.

An outbox (``Receipt`` rows), so that every receipt is sent exactly once:

1. the event writes its receipts in its own transaction (``write_decision_receipts``,
   ``write_execution_receipt``: they flush, the event's entry point commits), so a receipt
   exists exactly when its event was committed, never when it rolled back; the unique
   ``(kind, event_key)`` keeps one event from writing two;
2. the request that committed the event sends them right away (``send_after_event``), and the
   processing job sends whatever is still unsent (a failure, a crash in between:
   ``send_receipts``);
3. sending claims the rows first (one conditional UPDATE, committed) and records each one's
   outcome as soon as it is known (``claims.record_outcomes``), so two app servers, or a
   request and the job, never send one twice.

One receipt per event per recipient: a submission of many decisions gives each customer
address involved one receipt listing all its domains. The recipient is the holder's customer
address (``recipients.customer_email_relation``), in that relation's language.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from renewal_reminder.models import Decision, DomainStatus, Receipt, ReceiptStatus, Relation
from renewal_reminder.models.base import utcnow
from renewal_reminder.models.relation import same_address
from renewal_reminder.renewals import customer_links, email_templates, mailer
from renewal_reminder.renewals.claims import (
    claimable,
    insert_ignoring_duplicates,
    outcome_update,
    reclaim,
    record_outcomes,
)
from renewal_reminder.renewals.email_templates import (
    RECEIPT_DECISIONS,
    RECEIPT_REMOVED,
    RECEIPT_RENEWED,
)
from renewal_reminder.renewals.recipients import customer_email_relation
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

if TYPE_CHECKING:
    from renewal_reminder.models import Domain, RenewalDecision
    from renewal_reminder.renewals.decisions import RecordedDecisions

log = logging.getLogger(__name__)

KINDS = (RECEIPT_DECISIONS, RECEIPT_RENEWED, RECEIPT_REMOVED)
#: A claim this old belongs to a request or run that died before recording the result.
STALE_CLAIM = dt.timedelta(minutes=10)
#: After this many failed attempts a receipt is no longer retried (its error stays visible).
MAX_ATTEMPTS = 10
#: Receipts claimed and sent per transaction by the job.
CHUNK_SIZE = 200
_RETRYABLE = (ReceiptStatus.pending, ReceiptStatus.failed)


class ReceiptKey(NamedTuple):
    kind: str
    event_key: str


# --- what a receipt says ------------------------------------------------------------------------


def _line(domain: Domain, recipient: Relation, **extra) -> dict:
    """One domain of a receipt; ``client`` is the holder's name when it is not the recipient
    (a reseller's client's domain)."""
    client = domain.relation.name if domain.relation_id != recipient.id else None
    return {
        "name": domain.unicode_name,
        "client": client,
        "expiry_date": domain.expiry_date.isoformat(),
        **extra,
    }


def _sales_contact(relation: Relation) -> dict | None:
    from renewal_reminder.renewals.notifications import sales_contact_of  # imports decisions

    contact = sales_contact_of(relation)
    if contact is None:
        return None
    return {"name": contact.first_name or contact.username, "email": contact.email}


def receipt_context(
    kind: str, payload: dict, mail: mailer.MailSettings, renewal_link: str | None = None
) -> dict:
    """What a receipt template can use: the stored payload, plus links (built when it is
    sent, from the current settings): ``renewal_link``, the recipient's personal link to its
    renewal page (``customer_links``; without one, the plain page URL stands in), and for a
    decisions receipt ``selection_url``, the plain page (kept for templates written before the
    link)."""
    context = dict(payload)
    if kind == RECEIPT_DECISIONS:
        context["selection_url"] = mail.url("/renewals/")
    context["renewal_link"] = renewal_link or mail.url("/renewals/")
    return context


def decisions_payload(
    relation: dict, renew: list[dict], decline: list[dict], sales_contact: dict | None
) -> dict:
    """A decisions receipt: ``renew`` lines with ``years``, ``decline`` lines."""
    return {
        "relation": relation,
        "renew": renew,
        "decline": decline,
        "sales_contact": sales_contact,
    }


def renewed_payload(relation: dict, domain: dict, sales_contact: dict | None) -> dict:
    """A renewal receipt: ``domain`` has ``years``, ``expiry_date`` (decided for) and
    ``new_expiry_date``."""
    return {"relation": relation, "domain": domain, "sales_contact": sales_contact}


def removed_payload(relation: dict, domain: dict, action: str, sales_contact: dict | None) -> dict:
    """A removal receipt: ``action`` is ``deactivated`` or ``deleted``."""
    return {
        "relation": relation,
        "domain": domain,
        "action": action,
        "sales_contact": sales_contact,
    }


def _relation(relation: Relation) -> dict:
    return {"number": relation.number, "name": relation.name}


# --- writing them with their event --------------------------------------------------------------


def _write(
    session: Session, kind: str, event_key: str, recipient: Relation, payload: dict
) -> ReceiptKey:
    now = utcnow()
    row = {
        "kind": kind,
        "event_key": event_key,
        "relation_id": recipient.id,
        "recipient": (recipient.billing_email or "")[:320],
        "language": recipient.language or email_templates.DEFAULT_LANGUAGE,
        "payload": payload,
        "status": ReceiptStatus.pending,
        "attempts": 0,
        "created_at": now,
    }
    insert_ignoring_duplicates(session, Receipt.__table__, [row], ["kind", "event_key"])
    return ReceiptKey(kind, event_key)


def write_decision_receipts(session: Session, recorded: RecordedDecisions) -> list[ReceiptKey]:
    """The receipts of one submission: one per customer address, listing its domains. Written
    in the submission's transaction (flushes; the caller commits)."""
    if not recorded.decisions:
        return []
    session.flush()  # the decisions' ids name the batch
    batch = min(decision.id for decision in recorded.decisions)
    groups: dict[int, tuple[Relation, list[dict], list[dict]]] = {}

    def group(domain: Domain):
        recipient = customer_email_relation(domain.relation)
        return recipient, groups.setdefault(recipient.id, (recipient, [], []))

    for domain, years in recorded.renew:
        recipient, (_, renew, _decline) = group(domain)
        renew.append(_line(domain, recipient, years=years))
    for domain in recorded.decline:
        recipient, (_, _renew, decline) = group(domain)
        decline.append(_line(domain, recipient))
    return [
        _write(
            session,
            RECEIPT_DECISIONS,
            f"batch-{batch}-{recipient.id}",
            recipient,
            decisions_payload(_relation(recipient), renew, decline, _sales_contact(recipient)),
        )
        for recipient, renew, decline in groups.values()
    ]


def write_execution_receipt(
    session: Session, decision: RenewalDecision, domain: Domain
) -> ReceiptKey | None:
    """The receipt of a decision carried out at the registrar (renewed, deactivated or
    deleted), written in the transaction that records it (flushes; the caller commits)."""
    recipient = customer_email_relation(domain.relation)
    relation, contact = _relation(recipient), _sales_contact(recipient)
    key = f"decision-{decision.id}"
    if decision.decision is Decision.renew:
        line = _line(
            domain,
            recipient,
            years=decision.years,
            new_expiry_date=domain.expiry_date.isoformat(),
        )
        line["expiry_date"] = decision.expiry_date.isoformat()
        return _write(
            session, RECEIPT_RENEWED, key, recipient, renewed_payload(relation, line, contact)
        )
    if domain.status in (DomainStatus.deactivated, DomainStatus.deleted):
        line = _line(domain, recipient)
        payload = removed_payload(relation, line, domain.status.value, contact)
        return _write(session, RECEIPT_REMOVED, key, recipient, payload)
    return None


# --- sending them -------------------------------------------------------------------------------


@dataclass
class ReceiptSummary:
    sent: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        return f"receipts: {self.sent} sent, {self.failed} failed"


_RECORD = outcome_update(Receipt.__table__)


def send_receipts(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    keys: Iterable[ReceiptKey] | None = None,
    echo: Callable[[str], None] | None = None,
) -> ReceiptSummary:
    """Send the receipts named by ``keys`` (a request, right after its event), or every one
    still unsent or failed (the job), each once: claimed first, outcome recorded at once.
    Commits. ``mail_state`` is Flask-Mail's settings (``session.current_mail()``)."""
    summary = ReceiptSummary()
    say = echo or (lambda _text: None)
    wanted = list(dict.fromkeys(keys)) if keys is not None else None
    if wanted == []:
        return summary
    session.commit()  # the event is committed; end any read transaction before claiming
    templates = email_templates.TemplateCache(session)
    with mailer.Outbox(mail_state, mail.sender) as outbox:  # one connection for all of them
        after_id = 0  # each receipt once per call: a failure waits for the next run
        while True:
            owned, after_id = _claim(session, wanted, after_id)
            if after_id is None:
                break
            _send(session, outbox, templates, mail, owned, summary, say)
    if summary.sent or summary.failed:
        log.info("%s", summary)
    return summary


def _candidates(now: dt.datetime):
    """SQL condition: a receipt this sender may claim now (``claims.claimable``), unless it
    has failed ``MAX_ATTEMPTS`` times."""
    return and_(
        Receipt.attempts < MAX_ATTEMPTS,
        claimable(Receipt, _RETRYABLE, ReceiptStatus.sending, now - STALE_CLAIM),
    )


def _claim(
    session: Session, wanted: list[ReceiptKey] | None, after_id: int
) -> tuple[list[Receipt], int | None]:
    """Claim up to ``CHUNK_SIZE`` receipts after ``after_id`` for this sender: ``(the ones now
    owned, by id (a concurrent sender's are left out), the last id looked at)``, or ``([],
    None)`` when none are left. Commits."""
    now = utcnow()
    query = (
        select(Receipt.id)
        .where(Receipt.id > after_id, _candidates(now))
        .order_by(Receipt.id)
        .limit(CHUNK_SIZE)
    )
    if wanted is not None:
        query = query.where(
            or_(*(and_(Receipt.kind == k, Receipt.event_key == e) for k, e in wanted))
        )
    ids = list(session.scalars(query))
    session.commit()
    if not ids:
        return [], None
    token = uuid.uuid4().hex
    reclaim(
        session,
        Receipt,
        ids,
        token=token,
        now=now,
        retryable=_RETRYABLE,
        sending=ReceiptStatus.sending,
        stale_before=now - STALE_CLAIM,
        where=Receipt.attempts < MAX_ATTEMPTS,
    )
    session.commit()
    relation = selectinload(Receipt.relation)  # for the Reply-To (``_send``)
    owned = session.scalars(
        select(Receipt)
        .where(Receipt.claim_token == token)
        .order_by(Receipt.id)
        .options(
            relation.selectinload(Relation.sales_contact),
            relation.selectinload(Relation.parent).selectinload(Relation.sales_contact),
        )
    ).all()
    return list(owned), ids[-1]


def _send(session, outbox, templates, mail, owned, summary, say) -> None:
    from renewal_reminder.renewals.notifications import reply_to_for  # imports decisions

    outgoing, failures = [], []
    for receipt in owned:
        row = {"log_id": receipt.id, "recipient": receipt.recipient, "sent_at": None}
        row["attempts"] = receipt.attempts + 1
        try:
            to = normalize_email(receipt.recipient)
        except InvalidValue as exc:
            _failed(summary, say, receipt.recipient, str(exc))
            failures.append(row | {"status": ReceiptStatus.failed, "error": str(exc)})
            continue
        source = templates.get(receipt.kind, receipt.language)
        link = _personal_link(receipt, mail)
        context = receipt_context(receipt.kind, receipt.payload, mail, link)
        outgoing.append(
            mailer.OutgoingEmail(
                to,
                _renderer(source, context),
                tag=(receipt.kind, row),
                reply_to=reply_to_for(receipt.relation, mail),
            )
        )
    record_outcomes(session, _RECORD, failures)
    for result in outbox.send(outgoing):  # each outcome recorded before the next email
        kind, row = result.email.tag
        if result.ok:
            summary.sent += 1
            say(f"sent {kind} to {result.email.to}")
            outcome = {"status": ReceiptStatus.sent, "error": None, "sent_at": utcnow()}
        else:
            _failed(summary, say, result.email.to, result.error)
            outcome = {"status": ReceiptStatus.failed, "error": result.error[:2000]}
        record_outcomes(session, _RECORD, [row | outcome])


def _personal_link(receipt: Receipt, mail: mailer.MailSettings) -> str | None:
    """The personal link for the receipt's relation, made now (current link version), or
    ``None`` (the plain page URL stands in) when the receipt goes to an address that is no
    longer the relation's billing address: the address was written with the event, and a
    change of address since (which revokes the links) means the old mailbox is no longer
    trusted with a way in."""
    relation = receipt.relation
    if relation is None or not same_address(receipt.recipient, relation.billing_email):
        return None
    return customer_links.link_url(relation, mail)


def _renderer(source, context) -> Callable[[], email_templates.RenderedEmail]:
    return lambda: email_templates.render(source, context)


def _failed(summary: ReceiptSummary, say, to: str, problem: str) -> None:
    summary.failed += 1
    summary.problems.append(f"receipt to {to}: {problem}")
    say(f"receipt to {to} failed: {problem}")
    log.warning("receipt to %s failed: %s", to, problem)


def send_after_event(
    session: Session, mail_state, mail: mailer.MailSettings, keys: Iterable[ReceiptKey]
) -> ReceiptSummary | None:
    """A request's sending of its event's receipts, right after committing the event. Never
    raises: what it could not send stays in the outbox for the next job run."""
    keys = list(keys)
    if not keys:
        return None
    try:
        return send_receipts(session, mail_state, mail, keys)
    except Exception:
        log.exception("receipts %s not sent now: the next job run sends them", keys)
        session.rollback()
        return None


__all__ = [
    "KINDS",
    "ReceiptKey",
    "ReceiptSummary",
    "receipt_context",
    "send_after_event",
    "send_receipts",
    "write_decision_receipts",
    "write_execution_receipt",
]
