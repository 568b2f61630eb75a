"""The product's models. Importing this package registers every table on FAB's metadata."""

from app.models.confirmation import ConfirmationRequest
from app.models.decision import RenewalDecision
from app.models.domain import Domain
from app.models.enums import (
    AWAITING_DECISION,
    OUT_OF_CYCLE,
    Decision,
    DecisionChannel,
    DomainStatus,
    ProcessingState,
    RelationKind,
    ReminderStatus,
)
from app.models.relation import Relation, RelationUser
from app.models.reminder import EmailTemplate, JobRun, ReminderLog
from app.models.sales_digest import SalesDigestLog, SalesDigestStatus

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
