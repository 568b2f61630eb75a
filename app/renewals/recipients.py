"""Who receives customer emails about a relation's domains."""

from __future__ import annotations

from renewal_reminder.models import Relation


def customer_email_relation(relation: Relation) -> Relation:
    """The relation itself, or its reseller when the relation's emails go to the reseller.

    The reminder job applies the same rule inside its due-set query (``reminders.due``), for
    speed over a million domains; keep the two in step.
    """
    if relation.parent is not None and relation.reminders_to_reseller:
        return relation.parent
    return relation
