"""The customer's way in: the personal link in every customer email.

Almost no customer has a login, so every reminder digest, confirmation request and receipt
carries a link that opens the renewal selection page of the relation it was sent to (and,
for a reseller, its clients'), without a password:

- the link is a signed token (``signed_tokens``, purpose ``customer_link``) naming the
  relation's id and its ``link_version``, and it expires after ``CUSTOMER_LINK_DAYS`` (45 by
  default: the link in one reminder still works when the next one arrives);
- it is revocable: raising the relation's ``link_version`` (``rotate``, the "Revoke customer
  links" action, and automatically whenever the billing email changes, see
  ``models.relation``) makes every link sent so far worthless;
- the token travels after ``#`` to the landing page (``views.customer_links``), which posts it
  and starts a *link session*: the relation's id and version and a last-seen time in the
  Flask session, ended by closing the browser, by an hour idle or by a rotation
  (``LinkSession``);
- a tampered, expired or revoked link gets one generic answer, which offers a fresh link to
  the billing address (``fresh_link_emails``, sent after the answer has gone: the same
  answer, in the same time, whether the address is known or not).

What a link session may see is decided, like everything else, by ``renewals.access``
(``access.LinkVisitor``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from renewal_reminder import settings
from renewal_reminder.models import Relation
from renewal_reminder.models.relation import address_key
from renewal_reminder.renewals import email_templates, mailer
from renewal_reminder.renewals.signed_tokens import (
    BadToken,
    ExpiredToken,
    Purpose,
    make_token,
    read_token,
)
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

log = logging.getLogger(__name__)

#: The landing page of every link (under the product's URL prefix). Under ``/renewals/`` on
#: purpose: it is the door to the renewal page, and reads as such in an email.
LANDING_PATH = "/renewals/link/"
DEFAULT_DAYS = 45
#: A link session ends after this long without a request.
IDLE_LIMIT = dt.timedelta(hours=1)
#: Where a link session lives in the Flask session.
SESSION_KEY = "rr_link"
#: What the template samples show instead of a real token (they render without an app).
SAMPLE_TOKEN = "sample-link-not-a-real-token"


class LinkRefused(Exception):
    """The link does not open anything: tampered with, expired, or revoked (the relation's
    link version moved on, or the relation is gone). ``reason`` is for logs only: the
    visitor sees one generic page whatever it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the customer link is refused: {reason}")
        self.reason = reason


def link_days(config: Mapping) -> int:
    """``CUSTOMER_LINK_DAYS``, checked (start-up refuses a bad value)."""
    try:
        days = int(config.get("CUSTOMER_LINK_DAYS", DEFAULT_DAYS))
    except (TypeError, ValueError):
        raise InvalidValue("CUSTOMER_LINK_DAYS must be a whole number of days") from None
    if days < 1:
        raise InvalidValue("CUSTOMER_LINK_DAYS must be at least 1")
    return days


# --- making links -------------------------------------------------------------------------------


def token_for(relation_id: int, link_version: int) -> str:
    """A signed token naming the relation and its link version (and, by itself, its age)."""
    return make_token(Purpose.customer_link, {"r": relation_id, "v": link_version})


def link_for(mail: mailer.MailSettings, relation_id: int, link_version: int) -> str:
    """The absolute link for a relation given by its values (the reminder run keeps plain
    values, not ORM objects). Needs the app (its ``SECRET_KEY``)."""
    return f"{mail.url(LANDING_PATH)}#t={token_for(relation_id, link_version)}"


def link_url(relation: Relation, mail: mailer.MailSettings | None = None) -> str:
    """The personal link of ``relation``: BASE_URL, the URL prefix, the landing page, and the
    token after ``#`` (so it never reaches a server log or a ``Referer``)."""
    if mail is None:
        mail = mailer.MailSettings.from_config(settings.current())
    return link_for(mail, relation.id, relation.link_version or 1)


def sample_link(mail: mailer.MailSettings) -> str:
    """What a template preview shows: the real address with a placeholder token (previews
    render without an app, and must not mint working links)."""
    return f"{mail.url(LANDING_PATH)}#t={SAMPLE_TOKEN}"


# --- reading them -------------------------------------------------------------------------------


def relation_for_token(session: Session, token: str | None) -> Relation:
    """The relation a genuine, unexpired link names, if its link version is still current.

    Raises ``LinkRefused`` otherwise (tampered, expired, revoked: the caller answers them
    alike)."""
    max_age = link_days(settings.current()) * 24 * 3600
    try:
        payload = read_token(Purpose.customer_link, token, max_age)
    except ExpiredToken:
        raise LinkRefused("expired") from None
    except BadToken:
        raise LinkRefused("tampered or malformed") from None
    relation_id, version = _ids(payload)
    if relation_id is None:
        raise LinkRefused("malformed payload")
    relation = session.get(Relation, relation_id)
    if relation is None:
        raise LinkRefused("no such relation")
    if relation.link_version != version:
        raise LinkRefused("revoked (link version moved on)")
    return relation


def _ids(payload: object) -> tuple[int | None, int | None]:
    if not isinstance(payload, dict):
        return None, None
    relation_id, version = payload.get("r"), payload.get("v")
    if type(relation_id) is not int or type(version) is not int:  # bool is no id
        return None, None
    return relation_id, version


def rotate(session: Session, relation: Relation) -> int:
    """Revoke every link of ``relation`` sent so far (and end its live link sessions): the
    next email carries a new one. Flushes only; the caller commits. Returns the new version."""
    relation.link_version = (relation.link_version or 1) + 1
    session.flush()
    return relation.link_version


# --- link sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkSession:
    """What the Flask session holds after a link was exchanged: not permanent (the browser
    forgets it when it closes), and checked against the database on every request that uses
    it, so a rotation ends it at once."""

    relation_id: int
    link_version: int
    last_seen: float

    @classmethod
    def start(cls, relation: Relation, now: float | None = None) -> LinkSession:
        return cls(relation.id, relation.link_version, time.time() if now is None else now)

    def to_dict(self) -> dict:
        return {"r": self.relation_id, "v": self.link_version, "seen": int(self.last_seen)}

    @classmethod
    def from_dict(cls, data: object) -> LinkSession | None:
        if not isinstance(data, dict):
            return None
        relation_id, version = _ids(data)
        seen = data.get("seen")
        if relation_id is None or not isinstance(seen, (int, float)):
            return None
        return cls(relation_id, version, float(seen))

    def idle(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now - self.last_seen > IDLE_LIMIT.total_seconds()

    def seen(self, now: float | None = None) -> LinkSession:
        return LinkSession(self.relation_id, self.link_version, time.time() if now is None else now)


def relation_of_session(
    session: Session, link: LinkSession | None, now: float | None = None
) -> Relation | None:
    """The relation a link session may act for, or ``None`` when it has ended (idle for
    longer than ``IDLE_LIMIT``, or the relation's links were revoked since)."""
    if link is None or link.idle(now):
        return None
    relation = session.get(Relation, link.relation_id)
    if relation is None or relation.link_version != link.link_version:
        return None
    return relation


# --- a fresh link -------------------------------------------------------------------------------


def fresh_link_context(
    *, relation_number: int, relation_name: str, renewal_link: str, valid_days: int
) -> dict:
    """What a fresh-link template can use (the sender and the samples share it)."""
    return {
        "relation": {"number": relation_number, "name": relation_name},
        "renewal_link": renewal_link,
        "valid_days": valid_days,
    }


def fresh_link_emails(
    session: Session, mail: mailer.MailSettings, address: str
) -> list[mailer.OutgoingEmail]:
    """The emails with a fresh personal link for every relation whose billing email is
    ``address`` (``models.relation.address_key``): one each, in the relation's language. An
    unknown or invalid address gets none; the caller answers the same either way.

    Only reads: the caller owns the transaction, and should end it before handing the
    emails to the mail server (``mailer.send_all``)."""
    try:
        wanted = normalize_email(address)
    except InvalidValue:
        return []
    relations = session.scalars(
        select(Relation)
        .where(address_key(Relation.billing_email) == address_key(literal(wanted)))
        .order_by(Relation.number)
        .limit(100)  # one address, a hundred relations at most: no mail bomb
    ).all()
    if not relations:
        return []
    from renewal_reminder.renewals.notifications import reply_to_for  # imports decisions

    days = link_days(settings.current())
    templates = email_templates.TemplateCache(session)
    outgoing = []
    for relation in relations:
        try:
            to = normalize_email(relation.billing_email)
        except InvalidValue:
            continue  # matched case-insensitively, so valid; kept for safety
        source = templates.get(email_templates.CUSTOMER_LINK, relation.language)
        context = fresh_link_context(
            relation_number=relation.number,
            relation_name=relation.name,
            renewal_link=link_url(relation, mail),
            valid_days=days,
        )
        outgoing.append(
            mailer.OutgoingEmail(
                to,
                _renderer(source, context),
                tag=relation.number,
                reply_to=reply_to_for(relation, mail),
            )
        )
    return outgoing


def _renderer(source, context):
    return lambda: email_templates.render(source, context)
