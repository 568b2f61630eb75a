"""Statuses and kinds shared by the models, the domain logic and the screens.

Member names equal their stored values: FAB's generated forms look enum members up by the
string stored in the database.
"""

import enum


class RelationKind(enum.StrEnum):
    reseller = "reseller"
    client = "client"


class DomainStatus(enum.StrEnum):
    active = "active"
    renewal_confirmed = "renewal_confirmed"
    renewal_declined = "renewal_declined"
    renewed = "renewed"
    deactivated = "deactivated"
    deleted = "deleted"


#: A decision belongs to one expiry date. A domain in one of these statuses has no decision for
#: its current expiry date yet: it gets that cycle's reminders and is offered on the selection
#: page. ``renewed`` is here because executing a renewal moves the expiry date on, and the new
#: date needs a decision of its own.
AWAITING_DECISION = (DomainStatus.active, DomainStatus.renewed)

#: Domains that have left the renewal cycle for good.
OUT_OF_CYCLE = (DomainStatus.deactivated, DomainStatus.deleted)


class Decision(enum.StrEnum):
    renew = "renew"
    decline = "decline"


class DecisionChannel(enum.StrEnum):
    selection_page = "selection_page"
    confirmation_code = "confirmation_code"
    sales = "sales"
    automatic = "automatic"
    #: On the selection page opened from the signed link in a customer's email.
    email_link = "email_link"


class ProcessingState(enum.StrEnum):
    queued = "queued"
    done = "done"
    failed = "failed"
    #: A newer decision for the same domain and expiry date replaced this one before it was
    #: processed. The row stays as history; it just leaves the queue.
    superseded = "superseded"


class ReminderStatus(enum.StrEnum):
    #: Claimed by a run that is sending it now (or crashed: reclaimable after a while).
    sending = "sending"
    sent = "sent"
    #: The mail server refused or was unreachable: retried by the next run.
    failed = "failed"
    #: Not sendable (e.g. the relation's email address is invalid): retried once fixed.
    skipped = "skipped"
