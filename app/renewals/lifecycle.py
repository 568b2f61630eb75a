"""The renewal cycle of one domain: what its status becomes when facts change.

A decision belongs to one expiry date. When the expiry date moves on (a renewal was executed
here, or a registrar export shows the new date), the domain needs a decision for its new date
again. Only deactivated and deleted domains leave the cycle.

A change of holder starts clean (``holder_changed``): when a domain moves to another relation,
or its customer emails go to another address, its open activation codes are revoked and its
open decisions superseded, so nothing the old holder (or old address) started carries over.
After a move, the new holder's customers no longer see the old holder's decisions
(``visible_to_current_holder``); staff still see the whole history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from renewal_reminder.models import (
    OUT_OF_CYCLE,
    ConfirmationRequest,
    Domain,
    DomainStatus,
    ProcessingState,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals.recipients import customer_email_column

#: Marks (in its ``message``) a decision made while another relation held the domain: it
#: stays in the history for staff, and customers no longer see it.
_OPEN = (ProcessingState.queued, ProcessingState.failed)
_DECIDED = (DomainStatus.renewal_confirmed, DomainStatus.renewal_declined)
_CHUNK = 900  # ids per IN (...): SQLite allows 999 parameters


def status_after_expiry_change(
    status: DomainStatus, old_expiry: dt.date, new_expiry: dt.date
) -> DomainStatus:
    """The status a domain takes when its expiry date changes from ``old`` to ``new``.

    - Out of the cycle (deactivated, deleted): unchanged.
    - Moved later: ``renewed``, i.e. a new cycle awaiting its own decision (a confirmation or
      decline was for the old date).
    - Moved earlier (a correction): the decision for the old date no longer applies, so the
      domain is ``active`` again unless it was already awaiting a decision.
    """
    if status in OUT_OF_CYCLE or new_expiry == old_expiry:
        return status
    if new_expiry > old_expiry:
        return DomainStatus.renewed
    if status is DomainStatus.renewed:
        return status
    return DomainStatus.active


def start_next_cycle(domain: Domain, new_expiry: dt.date) -> None:
    """The domain's registration now runs until ``new_expiry``: a renewal executed here, or one
    made at the registrar that the registrar sync found (``registry_sync``). Both start the
    next cycle the same way: the new date awaits a decision of its own (status ``renewed``),
    and the period chosen for the old date is spent. Flushes nothing; the caller records it."""
    domain.expiry_date = new_expiry
    domain.status = DomainStatus.renewed
    domain.renewal_years = None


@dataclass
class HolderChange:
    """What ``holder_changed`` did."""

    codes_revoked: int = 0
    decisions_superseded: int = 0


def holder_changed(
    session: Session,
    domain_ids: Iterable[int],
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> HolderChange:
    """The domains' holder (``moved``: another relation) or the address their customer emails
    go to changed: start clean. Every entry point that changes either calls this.

    - Open activation codes are revoked (the old code gets the generic "invalid code").
    - Open (queued or failed) decisions are superseded, with ``reason`` in their message, and a
      domain whose status came from one (renewal confirmed or declined) awaits a decision
      again: the new holder decides for themselves.
    - The earlier decisions stay with the relation they were made for
      (``RenewalDecision.relation_id``): after a move the new holder's customers do not see
      who decided what, from where, before them (staff still do).

    Flushes only; the caller commits (with the change itself, where it can)."""
    now = now or utcnow()
    result = HolderChange()
    ids = sorted(set(domain_ids))
    superseded = f"superseded: {reason}"
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        result.codes_revoked += session.execute(
            update(ConfirmationRequest)
            .where(
                ConfirmationRequest.domain_id.in_(chunk),
                ConfirmationRequest.used_at.is_(None),
                ConfirmationRequest.revoked_at.is_(None),
            )
            .values(revoked_at=now, note=f"revoked: {reason}"[:1000])
            .execution_options(synchronize_session="fetch")
        ).rowcount
        decided = set(
            session.scalars(
                select(RenewalDecision.domain_id)
                .join(Domain, Domain.id == RenewalDecision.domain_id)
                .where(
                    RenewalDecision.domain_id.in_(chunk),
                    RenewalDecision.state.in_(_OPEN),
                    RenewalDecision.expiry_date == Domain.expiry_date,
                )
            )
        )
        result.decisions_superseded += session.execute(
            update(RenewalDecision)
            .where(RenewalDecision.domain_id.in_(chunk), RenewalDecision.state.in_(_OPEN))
            .values(state=ProcessingState.superseded, processed_at=now, message=superseded)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if decided:
            session.execute(
                update(Domain)
                .where(Domain.id.in_(sorted(decided)), Domain.status.in_(_DECIDED))
                .values(status=DomainStatus.active, renewal_years=None)
                .execution_options(synchronize_session="fetch")
            )
    session.flush()
    return result


def visible_to_current_holder():
    """SQL condition: the decision was made for the relation that holds its domain now (a
    customer's history shows no earlier holder's decisions)."""
    current_holder = (
        select(Domain.relation_id).where(Domain.id == RenewalDecision.domain_id).scalar_subquery()
    )
    return RenewalDecision.relation_id == current_holder


def customer_emails(session: Session, relation_ids: Iterable[int]) -> dict[int, str]:
    """``{domain id: the address its customer emails go to}`` (lower case) for the domains
    held by ``relation_ids`` or by their clients (a reseller's address is its clients' too)."""
    holder, parent = aliased(Relation), aliased(Relation)
    ids = sorted(set(relation_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(Domain.id, customer_email_column(holder, parent))
            .join(holder, holder.id == Domain.relation_id)
            .outerjoin(parent, parent.id == holder.parent_id)
            .where(or_(holder.id.in_(chunk), holder.parent_id.in_(chunk)))
        )
        found.update((domain_id, (email or "").strip().lower()) for domain_id, email in rows)
    return found


def recipients_changed(
    session: Session, before: Mapping[int, str], reason: str, *, moved: Iterable[int] = ()
) -> HolderChange:
    """Compare ``before`` (``customer_emails`` taken before a change of relations) with the
    state now and start clean (``holder_changed``, not moved) for the domains whose customer
    emails now go elsewhere; ``moved`` domains are left to their own call."""
    skip = set(moved)
    now = customer_emails(session, _holders(session, before))
    changed = [d for d, email in before.items() if d not in skip and now.get(d, email) != email]
    return holder_changed(session, changed, reason)


def _holders(session: Session, domain_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(domain_ids))
    holders: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        holders.update(
            session.scalars(
                select(Domain.relation_id).where(Domain.id.in_(ids[start : start + _CHUNK]))
            )
        )
    return holders
