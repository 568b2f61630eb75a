"""Who receives customer emails about a relation's domains."""

from __future__ import annotations

from sqlalchemy import and_, case

from renewal_reminder.models import Relation


def customer_email_relation(relation: Relation) -> Relation:
    """The relation itself, or its reseller when the relation's emails go to the reseller.

    The reminder job applies the same rule inside its due-set query (``reminders.due``), for
    speed over a million domains, and ``customer_email_column`` in SQL; keep them in step.
    """
    if relation.parent is not None and relation.reminders_to_reseller:
        return relation.parent
    return relation


def customer_email_column(relation, parent):
    """``customer_email_relation``'s rule in SQL: the billing email customer emails about the
    domains of ``relation`` (an aliased ``Relation``) go to; ``parent`` is its reseller,
    outer-joined."""
    return case(
        (
            and_(relation.parent_id.is_not(None), relation.reminders_to_reseller),
            parent.billing_email,
        ),
        else_=relation.billing_email,
    )
