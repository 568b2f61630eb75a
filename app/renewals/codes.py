"""Renewal confirmation requests: activation codes for the public confirmation page.

A code is 12 characters of Crockford base32 from ``secrets`` (60 bits), shown as
``ABCD-EFGH-JKMN``: no I, L, O or U to misread, case-insensitive, and spaces or dashes typed
with it are ignored. Only an HMAC of the code (keyed with the app's SECRET_KEY) is stored, so
a copy of the database does not reveal usable codes. A code can be used once, expires after
``CONFIRMATION_CODE_DAYS``, is revoked by a newer request for the same domain, and is worthless
once the domain left the renewal cycle or its expiry date moved on. Every way a code can be
wrong gives the same answer (``InvalidCode``), so the page reveals nothing about domains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from renewal_reminder.models import OUT_OF_CYCLE, ConfirmationRequest, Domain
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import customer_links, email_templates, mailer
from renewal_reminder.renewals.notifications import reply_to_for, sales_contact_of
from renewal_reminder.renewals.recipients import customer_email_relation
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = 12  # 12 x 5 bits = 60 bits
_READ_AS = {"O": "0", "I": "1", "L": "1"}  # what people type for the digits
MAX_INPUT_LENGTH = 64
CONFIRM_PATH = "/confirm/"
GENERIC_ERROR = (
    "This code is not valid. Check that you typed it as in the email; a code works once, "
    "only until its expiry date, and only the newest code for a domain works."
)


class InvalidCode(Exception):
    """Wrong, expired, used or revoked: deliberately one answer for all."""

    def __init__(self) -> None:
        super().__init__(GENERIC_ERROR)


@dataclass(frozen=True)
class CodeSettings:
    secret_key: bytes
    valid_days: int

    @classmethod
    def from_config(cls, config: Mapping) -> CodeSettings:
        secret = config.get("SECRET_KEY") or ""
        try:
            days = int(config.get("CONFIRMATION_CODE_DAYS", 30))
        except (TypeError, ValueError):
            raise InvalidValue("CONFIRMATION_CODE_DAYS must be a whole number of days") from None
        if days < 1:
            raise InvalidValue("CONFIRMATION_CODE_DAYS must be at least 1")
        return cls(secret.encode() if isinstance(secret, str) else secret, days)


def generate_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str | None) -> str | None:
    """The code's canonical form, or ``None`` if it cannot be a code at all."""
    if not text or len(text) > MAX_INPUT_LENGTH:
        return None
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t")
    cleaned = "".join(_READ_AS.get(ch, ch) for ch in cleaned)
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(settings: CodeSettings, normalized_code: str) -> str:
    return hmac.new(settings.secret_key, normalized_code.encode(), hashlib.sha256).hexdigest()


def find_open_request(
    session: Session, settings: CodeSettings, text: str | None, now: dt.datetime | None = None
) -> ConfirmationRequest:
    """The request a typed code belongs to, if it can still be used; else ``InvalidCode``."""
    now = now or utcnow()
    normalized = normalize_code(text)
    if normalized is None:
        raise InvalidCode()
    digest = code_hash(settings, normalized)
    request = session.scalar(
        select(ConfirmationRequest).where(ConfirmationRequest.code_hash == digest)
    )
    if request is None or not hmac.compare_digest(request.code_hash, digest):
        raise InvalidCode()
    domain = request.domain
    if (
        request.used_at is not None
        or request.revoked_at is not None
        or request.expires_at <= now
        or domain.status in OUT_OF_CYCLE
        or domain.expiry_date != request.expiry_date
    ):
        raise InvalidCode()
    return request


def consume(session: Session, request: ConfirmationRequest, now: dt.datetime | None = None) -> None:
    """Mark the code used, in the caller's transaction. Two submissions racing with one code:
    only the first UPDATE matches, the second gets ``InvalidCode``."""
    now = now or utcnow()
    result = session.execute(
        update(ConfirmationRequest)
        .where(
            ConfirmationRequest.id == request.id,
            ConfirmationRequest.used_at.is_(None),
            ConfirmationRequest.revoked_at.is_(None),
            ConfirmationRequest.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidCode()


@dataclass
class RequestOutcome:
    domain: Domain
    request: ConfirmationRequest | None
    sent_to: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def confirmation_request_context(
    *,
    domain_name: str,
    expiry_date: dt.date,
    code: str,
    valid_until: dt.date,
    relation_number: int,
    relation_name: str,
    holder_name: str | None,
    sales_name: str | None,
    sales_email: str | None,
    mail: mailer.MailSettings,
    renewal_link: str,
) -> dict:
    """What a confirmation-request template can use (the sender and the samples share it).

    The link carries the code after ``#``: browsers never send that part to the server, so
    the code does not end up in access logs; the page fills it in with JavaScript."""
    return {
        "domain": {
            "name": domain_name,
            "expiry_date": expiry_date.isoformat(),
            "client": holder_name,
        },
        "code": code,
        "valid_until": valid_until.isoformat(),
        "confirm_url": mail.url(CONFIRM_PATH),
        "confirm_link": f"{mail.url(CONFIRM_PATH)}#code={code}",
        # The recipient's personal link to its renewal page (``customer_links``).
        "renewal_link": renewal_link,
        "relation": {"number": relation_number, "name": relation_name},
        "sales_contact": {"name": sales_name or sales_email, "email": sales_email}
        if sales_email
        else None,
    }


def send_confirmation_request(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    settings: CodeSettings,
    domain: Domain,
    sent_by_id: int | None,
) -> RequestOutcome:
    """Revoke the domain's open codes, create a new one and email it to the holder (or its
    reseller, as for reminders). Recorded either way; a code whose email failed is revoked."""
    if domain.status in OUT_OF_CYCLE:
        return RequestOutcome(domain, None, None, f"{domain.unicode_name} is {domain.status}")
    recipient = customer_email_relation(domain.relation)
    try:
        to = normalize_email(recipient.billing_email)
    except InvalidValue as exc:
        return RequestOutcome(domain, None, None, str(exc))
    now = utcnow()
    session.execute(
        update(ConfirmationRequest)
        .where(
            ConfirmationRequest.domain_id == domain.id,
            ConfirmationRequest.used_at.is_(None),
            ConfirmationRequest.revoked_at.is_(None),
        )
        .values(revoked_at=now, note="replaced by a newer request")
        .execution_options(synchronize_session=False)
    )
    code = generate_code()
    request = ConfirmationRequest(
        domain=domain,
        code_hash=code_hash(settings, normalize_code(code)),
        expiry_date=domain.expiry_date,
        sent_to=to,
        sent_by_id=sent_by_id,
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.valid_days),
    )
    session.add(request)
    session.commit()

    source = email_templates.template_for(
        session, email_templates.CONFIRMATION_REQUEST, recipient.language
    )

    def render() -> email_templates.RenderedEmail:  # called by the Outbox: failures are results
        contact = sales_contact_of(recipient)
        context = confirmation_request_context(
            domain_name=domain.unicode_name,
            expiry_date=domain.expiry_date,
            code=code,
            valid_until=request.expires_at.date(),
            relation_number=recipient.number,
            relation_name=recipient.name,
            holder_name=domain.relation.name if domain.relation_id != recipient.id else None,
            sales_name=(contact.first_name or contact.username) if contact else None,
            sales_email=contact.email if contact else None,
            mail=mail,
            renewal_link=customer_links.link_url(recipient, mail),
        )
        return email_templates.render(source, context)

    outgoing = mailer.OutgoingEmail(to, render, reply_to=reply_to_for(recipient, mail))
    [result] = mailer.send_all(mail_state, [outgoing], mail.sender)
    error = result.error
    if error:
        request.revoked_at = utcnow()
        request.note = f"the email could not be sent: {error}"[:1000]
        session.commit()
        log.warning("confirmation request for %s not sent: %s", domain.name, error)
    return RequestOutcome(domain, request, to, error)
