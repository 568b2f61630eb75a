"""Invitations: a relation's billing address gets a link to set a password for a login linked
to that relation (role Reseller or Client by the relation's kind).

- **Create** (``create_invitations``): one ``Invitation`` row per relation, valid
  ``INVITATION_DAYS`` days. An explicit re-invite revokes the relation's open invitation; a
  bulk run (``--all-relations``) skips relations that have one, which is what makes the run
  resumable: run it again and it only adds what is missing. Two runs at once cannot both
  create one for the same relation: each chunk is created holding the database's write lock
  (SQLite ``BEGIN IMMEDIATE``) or the relations' row locks (PostgreSQL ``FOR UPDATE``).
- **Send** (``send_invitations``): the claim-then-send pattern of the reminder run
  (``renewals.claims``): a chunk of pending (or failed, or abandoned) rows is claimed by one
  UPDATE that a concurrent run's UPDATE cannot repeat, committed, then each email goes over
  one ``mailer.Outbox`` connection and its outcome is committed at once. A run that dies after
  email N has recorded 1..N; the next run sends the rest. Exactly once.
- **Accept** (``accept``): the emailed link is signed (``signed_tokens``, purpose
  invitation) and names the row and its nonce; the row decides: not accepted, not revoked, not
  expired, and still addressed to the relation's billing address (``is_open``). Accepting
  marks it accepted with a conditional UPDATE in the same transaction that creates the login,
  so a link is used once even by two browsers at the same moment.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from renewal_reminder.models import Invitation, InvitationStatus, Relation, RelationUser
from renewal_reminder.models.base import utcnow
from renewal_reminder.models.relation import address_key
from renewal_reminder.renewals import email_templates, mailer
from renewal_reminder.renewals.accounts import add_customer_login, login_taken
from renewal_reminder.renewals.claims import claimable, outcome_update, reclaim, record_outcomes
from renewal_reminder.renewals.signed_tokens import BadToken, Purpose, make_token, read_token
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

log = logging.getLogger(__name__)

INVITATION_DAYS = 7
#: Relations per creating transaction, and invitations claimed per sending transaction.
CHUNK_SIZE = 500
#: A claim this old belongs to a run that died before recording the result: take it over.
STALE_CLAIM = dt.timedelta(minutes=30)
_RETRYABLE = (InvitationStatus.pending, InvitationStatus.failed)


class InvitationRefused(Exception):
    """The link is tampered with, expired, revoked or used: one answer for all of them."""


def is_open(now: dt.datetime):
    """SQL condition: an invitation that can still be accepted (and so still be sent).

    Besides unused, unrevoked and unexpired, it must still be addressed to its relation's
    billing address (``models.relation.address_key``): once the address changes, whoever
    reads the old mailbox must not get a login for the relation, whether the email went out
    already (accepting is refused) or not (it is never sent), and a bulk run invites the new
    address. Checked here, as a state, rather than by revoking at the change, so that no way
    of changing the address (the Admin screens, an import, an UPDATE statement, raw SQL) can
    be missed."""
    holder = aliased(Relation)
    return and_(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
        exists().where(
            holder.id == Invitation.relation_id,
            address_key(holder.billing_email) == address_key(Invitation.email),
        ),
    )


# --- create -------------------------------------------------------------------------------------


def relations_to_invite(only_without_login: bool = False):
    """``SELECT Relation.id`` of every relation (optionally only those without a login)."""
    query = select(Relation.id)
    if only_without_login:
        query = query.where(~exists().where(RelationUser.relation_id == Relation.id))
    return query.order_by(Relation.id)


def create_invitations(
    session: Session,
    relation_ids: Iterable[int],
    *,
    reinvite: bool,
    only_without_login: bool = False,
    invited_by_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Create invitations for ``relation_ids`` and return their ids. Commits per chunk.

    ``reinvite``: revoke each relation's open invitation and make a new one (the Admin action,
    ``--relation``). Otherwise relations with an open invitation are skipped (``--all-
    relations``: a second run adds only what is missing)."""
    now = now or utcnow()
    ids = list(dict.fromkeys(relation_ids))
    created: list[int] = []
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk = ids[start : start + CHUNK_SIZE]
        _lock_for_writing(session, chunk)
        if reinvite:
            session.execute(
                update(Invitation)
                .where(Invitation.relation_id.in_(chunk), is_open(now))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
        query = select(Relation.id, Relation.billing_email, Relation.language).where(
            Relation.id.in_(chunk),
            ~exists().where(Invitation.relation_id == Relation.id, is_open(now)),
        )
        if only_without_login:
            query = query.where(~exists().where(RelationUser.relation_id == Relation.id))
        rows = [
            {
                "relation_id": relation_id,
                "email": (email or "")[:320],
                "language": language or "en",
                "nonce": secrets.token_hex(16),
                "status": InvitationStatus.pending,
                "expires_at": now + dt.timedelta(days=INVITATION_DAYS),
                "invited_by_id": invited_by_id,
                "attempts": 0,
                "created_at": now,
            }
            for relation_id, email, language in session.execute(query.order_by(Relation.id))
        ]
        if rows:
            nonces = [row["nonce"] for row in rows]
            session.execute(Invitation.__table__.insert(), rows)
            created += session.scalars(
                select(Invitation.id).where(Invitation.nonce.in_(nonces))
            ).all()
        session.commit()
    return created


def _lock_for_writing(session: Session, relation_ids: list[int]) -> None:
    """Make the check-then-insert of one chunk atomic against a concurrent run."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.dbapi_connection
        if not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        session.execute(
            select(Relation.id)
            .where(Relation.id.in_(relation_ids))
            .order_by(Relation.id)
            .with_for_update()
        ).all()


# --- send ---------------------------------------------------------------------------------------


@dataclass
class InviteSummary:
    created: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __str__(self) -> str:
        return (
            f"invitations: {self.created} created; sent {self.sent}, failed {self.failed}, "
            f"skipped {self.skipped}"
        )


def invitation_link(mail: mailer.MailSettings, invitation_id: int, nonce: str) -> str:
    """The emailed link: the token after ``#`` (never sent to a server, see ``token_pages``)."""
    token = make_token(Purpose.invitation, {"i": invitation_id, "n": nonce})
    return mail.url(f"/invitation/#t={token}")


def invitation_context(
    *,
    relation_number: int,
    relation_name: str,
    login: str,
    invitation_link: str,
    expires_on: dt.date,
    sales_contact: dict | None = None,
) -> dict:
    """What the invitation template can use: plain values only (it renders in a sandbox)."""
    return {
        "relation": {"number": relation_number, "name": relation_name},
        "login": login,
        "invitation_link": invitation_link,
        "valid_days": INVITATION_DAYS,
        "expires_on": expires_on.isoformat(),
        "sales_contact": sales_contact,
    }


def _claimable(now: dt.datetime):
    """SQL condition: an open invitation whose email another run may claim now (pending,
    failed, or abandoned ``STALE_CLAIM`` ago: ``claims.claimable``)."""
    return and_(
        is_open(now),
        claimable(Invitation, _RETRYABLE, InvitationStatus.sending, now - STALE_CLAIM),
    )


def send_invitations(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    *,
    invitation_ids: Iterable[int] | None = None,
    relation_ids: Iterable[int] | None = None,
    echo: Callable[[str], None] | None = None,
    summary: InviteSummary | None = None,
) -> InviteSummary:
    """Send every open invitation not sent yet (or only ``invitation_ids``, or those of
    ``relation_ids``), each exactly once; safe to run twice or concurrently. Commits.

    The time is read afresh for every chunk: a claim is stamped with the moment it is made,
    and what counts as abandoned is judged against that moment. A run that fixed its time
    at the start would, after ``STALE_CLAIM``, stamp new claims with a time that already
    looks abandoned, and a second run would take them over and send them again."""
    summary = summary or InviteSummary()
    only_ids = list(invitation_ids) if invitation_ids is not None else None
    only_relations = list(relation_ids) if relation_ids is not None else None
    templates = email_templates.TemplateCache(session)
    last_id = 0
    with mailer.Outbox(mail_state, mail.sender) as outbox:
        while True:
            query = select(Invitation.id).where(_claimable(utcnow()), Invitation.id > last_id)
            if only_ids is not None:
                query = query.where(Invitation.id.in_(only_ids))
            if only_relations is not None:
                query = query.where(Invitation.relation_id.in_(only_relations))
            chunk = session.scalars(query.order_by(Invitation.id).limit(CHUNK_SIZE)).all()
            session.commit()
            if not chunk:
                break
            last_id = chunk[-1]
            _send_chunk(session, outbox, mail, templates, chunk, summary, echo)
    log.info("%s", summary)
    return summary


#: One invitation's outcome (Core, by primary key; releases the claim).
_RECORD = outcome_update(Invitation.__table__)


def _claim(session: Session, chunk: list[int]) -> str:
    """Claim the ``chunk``'s invitations that are still claimable (a concurrent run that took
    one first keeps it), stamped now; commits and returns this claim's token."""
    token = uuid.uuid4().hex
    now = utcnow()
    reclaim(
        session,
        Invitation,
        chunk,
        token=token,
        now=now,
        retryable=_RETRYABLE,
        sending=InvitationStatus.sending,
        stale_before=now - STALE_CLAIM,
        where=is_open(now),
    )
    session.commit()
    return token


def _send_chunk(session, outbox, mail, templates, chunk, summary, echo) -> None:
    token = _claim(session, chunk)
    from renewal_reminder.renewals.notifications import sales_contact_of

    owned = session.execute(
        select(Invitation, Relation)
        .join(Relation, Relation.id == Invitation.relation_id)
        .where(Invitation.claim_token == token)
        .order_by(Invitation.id)
        .options(
            selectinload(Relation.sales_contact),
            selectinload(Relation.parent).selectinload(Relation.sales_contact),
        )
    ).all()
    outgoing = []
    for invitation, relation in owned:
        contact = sales_contact_of(relation)
        values = {
            "id": invitation.id,
            "attempts": invitation.attempts,
            "number": relation.number,
            "to": invitation.email,
        }
        try:
            to = normalize_email(invitation.email)
        except InvalidValue as exc:
            summary.skipped += 1
            summary.problems.append(f"#{relation.number} skipped: {exc}")
            _record(session, values, InvitationStatus.failed, str(exc), None)
            continue
        context = invitation_context(
            relation_number=relation.number,
            relation_name=relation.name,
            login=to,
            invitation_link=invitation_link(mail, invitation.id, invitation.nonce),
            expires_on=invitation.expires_at.date(),
            sales_contact=(
                {
                    "name": " ".join(p for p in (contact.first_name, contact.last_name) if p)
                    or contact.email,
                    "email": contact.email,
                }
                if contact is not None
                else None
            ),
        )
        source = templates.get(email_templates.INVITATION, invitation.language)
        outgoing.append(
            mailer.OutgoingEmail(
                to, _renderer(source, context), tag=values, reply_to=_reply_to(relation, mail)
            )
        )
    # The emails carry plain values: let the chunk's rows go, so the commit after each email
    # does not expire (and the next one reload) hundreds of objects.
    for invitation, relation in owned:
        for row in (invitation, relation, relation.parent):
            if row is not None and row in session:
                session.expunge(row)
    session.commit()  # nothing to write; ends the read transaction before sending
    for result in outbox.send(outgoing):
        values = result.email.tag
        if result.ok:
            summary.sent += 1
            _record(session, values, InvitationStatus.sent, None, utcnow())
            if echo:
                echo(f"invited #{values['number']} at {result.email.to}")
        else:
            summary.failed += 1
            summary.problems.append(f"#{values['number']} {result.email.to}: {result.error}")
            _record(session, values, InvitationStatus.failed, result.error, None)


def _renderer(source, context):
    return lambda: email_templates.render(source, context)


def _reply_to(relation, mail):
    from renewal_reminder.renewals.notifications import reply_to_for

    return reply_to_for(relation, mail)


def _record(session, values, status, error, sent_at) -> None:
    """Write one invitation's outcome and commit it (``claims.record_outcomes``)."""
    row = {
        "log_id": values["id"],
        "status": status,
        "error": error,
        "sent_at": sent_at,
        "attempts": values["attempts"] + 1,
    }
    record_outcomes(session, _RECORD, [row])


def invite(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    relation_ids: Iterable[int],
    *,
    reinvite: bool,
    only_without_login: bool = False,
    invited_by_id: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> InviteSummary:
    """Create the invitations, then send them (and any left unsent for those relations)."""
    ids = list(relation_ids)
    created = create_invitations(
        session,
        ids,
        reinvite=reinvite,
        only_without_login=only_without_login,
        invited_by_id=invited_by_id,
    )
    summary = InviteSummary(created=len(created))
    return send_invitations(session, mail_state, mail, relation_ids=ids, echo=echo, summary=summary)


# --- accept -------------------------------------------------------------------------------------

#: The token outlives the row's own expiry a little; the row decides.
_TOKEN_MAX_AGE = (INVITATION_DAYS + 1) * 24 * 3600


def read_link(token: str | None) -> dict:
    """``{"i": id, "n": nonce}`` of a genuine invitation token; ``InvitationRefused`` else."""
    try:
        payload = read_token(Purpose.invitation, token, _TOKEN_MAX_AGE)
    except BadToken:
        raise InvitationRefused() from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("i"), int)
        or not isinstance(payload.get("n"), str)
    ):
        raise InvitationRefused()
    return {"i": payload["i"], "n": payload["n"]}


def open_invitation(session: Session, link: dict | None, now: dt.datetime | None = None):
    """The open invitation ``link`` names (``read_link``'s value); ``InvitationRefused`` if it
    is unknown, used, revoked or expired."""
    if not isinstance(link, dict):
        raise InvitationRefused()
    invitation = session.scalar(
        select(Invitation).where(
            Invitation.id == link.get("i"),
            Invitation.nonce == link.get("n"),
            is_open(now or utcnow()),
        )
    )
    if invitation is None:
        raise InvitationRefused()
    return invitation


@dataclass(frozen=True)
class LoginChoice:
    """What the person accepting must choose: by default the login name and email address
    are the invitation's address; when another login has either, they choose their own."""

    default: str
    username_taken: bool
    email_taken: bool


def login_choice(session: Session, security_manager, invitation) -> LoginChoice:
    address = invitation.email
    return LoginChoice(
        address,
        login_taken(session, security_manager, username=address),
        login_taken(session, security_manager, email=address),
    )


def accept(
    session: Session,
    security_manager,
    invitation,
    *,
    password: str,
    username: str | None = None,
    email: str | None = None,
    now: dt.datetime | None = None,
):
    """Create the invitation's login (linked to its relation, role by its kind) and mark the
    invitation accepted, in the caller's transaction (flushes; the caller commits). Raises
    ``InvalidValue`` (a name or password to choose again) or ``InvitationRefused`` (used or
    revoked meanwhile)."""
    now = now or utcnow()
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, is_open(now))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise InvitationRefused()
    relation = session.get(Relation, invitation.relation_id)
    user = add_customer_login(
        session,
        security_manager,
        relation,
        username=(username or invitation.email),
        email=(email or invitation.email),
        password=password,
    )
    session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id)
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    session.expire(invitation)
    return user
