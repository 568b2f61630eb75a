"""The product's models. Importing this package registers every table on FAB's metadata."""

from renewal_reminder.models.confirmation import ConfirmationRequest
from renewal_reminder.models.decision import RenewalDecision
from renewal_reminder.models.domain import Domain
from renewal_reminder.models.enums import (
    AWAITING_DECISION,
    OUT_OF_CYCLE,
    Decision,
    DecisionChannel,
    DomainStatus,
    ProcessingState,
    RelationKind,
    ReminderStatus,
)
from renewal_reminder.models.relation import Relation, RelationUser
from renewal_reminder.models.reminder import EmailTemplate, JobRun, ReminderLog
from renewal_reminder.models.sales_digest import SalesDigestLog, SalesDigestStatus

#: Every table the product owns; the addon creates exactly these when the host lets FAB
#: create missing tables, and the migrations filter on the prefix.
TABLE_PREFIX = "rr_"

__all__ = [
    "AWAITING_DECISION",
    "ConfirmationRequest",
    "OUT_OF_CYCLE",
    "TABLE_PREFIX",
    "Decision",
    "DecisionChannel",
    "Domain",
    "EmailTemplate",
    "JobRun",
    "DomainStatus",
    "ProcessingState",
    "Relation",
    "RelationKind",
    "RelationUser",
    "ReminderLog",
    "ReminderStatus",
    "RenewalDecision",
    "SalesDigestLog",
    "SalesDigestStatus",
]
