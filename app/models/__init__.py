"""The product's models, on their own metadata (``Base.metadata``; see ``models.base``)."""

from renewal_reminder.models.access_tokens import Invitation, InvitationStatus, UserSession
from renewal_reminder.models.base import TABLE_PREFIX, Base, product_tables
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
from renewal_reminder.models.escalation import EscalationLevel, EscalationLog, EscalationStatus
from renewal_reminder.models.import_job import ImportJob, ImportStatus
from renewal_reminder.models.receipt import Receipt, ReceiptStatus
from renewal_reminder.models.registry_difference import RegistryDifference
from renewal_reminder.models.relation import Relation, RelationUser
from renewal_reminder.models.reminder import EmailTemplate, JobRun, ProductRole, ReminderLog
from renewal_reminder.models.sales_digest import SalesDigestLog, SalesDigestStatus
from renewal_reminder.models.simulated_registry import SimulatedRegistryEntry

__all__ = [
    "Base",
    "Invitation",
    "InvitationStatus",
    "UserSession",
    "product_tables",
    "AWAITING_DECISION",
    "ConfirmationRequest",
    "OUT_OF_CYCLE",
    "TABLE_PREFIX",
    "Decision",
    "DecisionChannel",
    "Domain",
    "EmailTemplate",
    "EscalationLevel",
    "EscalationLog",
    "EscalationStatus",
    "ImportJob",
    "ImportStatus",
    "JobRun",
    "DomainStatus",
    "ProcessingState",
    "Relation",
    "RelationKind",
    "RelationUser",
    "ProductRole",
    "Receipt",
    "RegistryDifference",
    "ReceiptStatus",
    "ReminderLog",
    "ReminderStatus",
    "RenewalDecision",
    "SalesDigestLog",
    "SalesDigestStatus",
    "SimulatedRegistryEntry",
]
