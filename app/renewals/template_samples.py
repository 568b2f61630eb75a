"""Sample data for email templates: what each kind of template is checked and previewed with.

Every template name in ``email_templates.DEFAULTS`` has a sample builder here. A builder
returns the contexts a template of that name must render for before Admin can save it; the
first one is what the preview shows, the others take the other side of the defaults' ``if``s
(no sales contact, no client domains, nothing to renew, ...). Contexts are built by the same
functions the real emails use, so the samples cannot drift from what is sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from renewal_reminder.models import Relation, RelationKind
from renewal_reminder.renewals import (
    codes,
    customer_links,
    escalation,
    mailer,
    notifications,
    receipts,
    reminders,
    sales_digest,
)
from renewal_reminder.renewals.calendar import Offset
from renewal_reminder.renewals.email_templates import (
    CONFIRMATION_REQUEST,
    CUSTOMER_LINK,
    ESCALATION_ALERT,
    RECEIPT_DECISIONS,
    RECEIPT_REMOVED,
    RECEIPT_RENEWED,
    RENEWAL_REMINDER,
    SALES_DECISIONS,
    SALES_DIGEST,
)
from renewal_reminder.renewals.reminders import Digest, DueReminder, Recipient, ReminderSettings

# --- renewal reminders --------------------------------------------------------------------------

#: The recipient of the sample digest: a reseller with a sales contact.
SAMPLE_RECIPIENT = Recipient(
    relation_id=-1,
    number=1311,
    name="Dommelsen, V",
    email="info@dommelsen.nl",
    language="en",
    sales_contact_name="Sanne de Vries",
    sales_contact_email="sanne.devries@reseller.example.com",
)
_SAMPLE_CLIENT = (-2, "Bakkerij Jansen")


def sample_reminders(
    today: dt.date, recipient_id: int, holder_name: str, with_client: bool = True
) -> list[DueReminder]:
    """A few reminders due today: one in 5 days, two in 2 months and (``with_client``, for a
    reseller) one of a client's domains in 15 days."""

    def due(domain_id, name, expiry, offset, holder=(recipient_id, holder_name)):
        holder_id, name_of_holder = holder
        return DueReminder(
            domain_id,
            name,
            expiry,
            Offset.parse(offset),
            holder_id,
            name_of_holder,
            recipient_id,
            None,
        )

    two_months = today + relativedelta(months=2)
    result = [
        due(1, "deliverystatus.org", today + dt.timedelta(days=5), "5d"),
        due(2, "denzelishome.com", two_months, "2m"),
        due(3, "drivemasters.net", two_months, "2m"),
    ]
    if with_client:
        result.append(
            due(4, "bakkerijjansen.nl", today + dt.timedelta(days=15), "15d", _SAMPLE_CLIENT)
        )
    return result


def sample_digest(today: dt.date, language: str) -> Digest:
    """The digest the preview shows: reseller #1311 with a sales contact and a client's domain."""
    recipient = dataclasses.replace(SAMPLE_RECIPIENT, language=language)
    return Digest(recipient, sample_reminders(today, recipient.relation_id, recipient.name))


def sample_digests(today: dt.date, language: str) -> list[Digest]:
    """Digests a template must render for before it is saved: the preview's, and a plain
    client's without a sales contact or client domains (the other side of every ``if``)."""
    plain = dataclasses.replace(
        SAMPLE_RECIPIENT,
        relation_id=-3,
        number=2024,
        name="Veldhoven Webdesign",
        email="admin@veldhoven-webdesign.nl",
        language=language,
        sales_contact_name=None,
        sales_contact_email=None,
    )
    own = sample_reminders(today, plain.relation_id, plain.name, with_client=False)
    return [sample_digest(today, language), Digest(plain, own)]


def relation_digest(
    session: Session,
    relation: Relation,
    today: dt.date,
    language: str,
    mail: mailer.MailSettings | None = None,
) -> Digest:
    """The sample reminders, addressed to a real relation (loaded as the reminder job does).
    With ``mail``, its link is the sample link: a preview never mints a working one."""
    due = sample_reminders(
        today, relation.id, relation.name, with_client=relation.kind is RelationKind.reseller
    )
    (digest,) = reminders.digests(session, due)
    link = customer_links.sample_link(mail) if mail is not None else None
    recipient = dataclasses.replace(digest.recipient, language=language, renewal_link=link)
    return Digest(recipient, digest.reminders)


# --- the registry -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SampleInputs:
    """What a sample builder may use; add fields here when a new kind needs more settings."""

    language: str
    today: dt.date
    mail: mailer.MailSettings
    reminder_settings: ReminderSettings


def _renewal_reminder(inputs: SampleInputs) -> list[dict]:
    link = customer_links.sample_link(inputs.mail)
    return [
        reminders.digest_context(
            Digest(dataclasses.replace(digest.recipient, renewal_link=link), digest.reminders),
            inputs.today,
            inputs.reminder_settings,
        )
        for digest in sample_digests(inputs.today, inputs.language)
    ]


def _sales_decisions(inputs: SampleInputs) -> list[dict]:
    """The preview's (renewals and declines, one a client's), only renewals of the relation's
    own domains, and only declines including a client's domain."""
    today, line = inputs.today, notifications.decision_line

    def in_days(days: int) -> dt.date:
        return today + dt.timedelta(days=days)

    renew = [
        line("deliverystatus.org", in_days(5), years=1),
        line("denzelishome.com", today + relativedelta(months=2), years=3),
    ]
    client_renewal = line("bakkerijjansen.nl", in_days(15), "Bakkerij Jansen", years=2)
    decline = [line("drivemasters.net", today + relativedelta(months=2))]
    client_decline = line("jansenbrood.nl", in_days(20), "Bakkerij Jansen")

    def context(renew, decline, channel="selection_page", decided_by="Vera Dommelsen (vdommelsen)"):
        return notifications.sales_decisions_context(
            relation_number=SAMPLE_RECIPIENT.number,
            relation_name=SAMPLE_RECIPIENT.name,
            sales_name="Sanne",
            sales_email=SAMPLE_RECIPIENT.sales_contact_email,
            decided_by=decided_by,
            channel=channel,
            renew=renew,
            decline=decline,
            queue_url=inputs.mail.url(notifications.queue_path(SAMPLE_RECIPIENT.number)),
        )

    return [
        context([*renew, client_renewal], decline),
        context(renew, []),
        context([], [*decline, client_decline], "confirmation_code", "info@dommelsen.nl"),
    ]


def _confirmation_request(inputs: SampleInputs) -> list[dict]:
    """A reseller's client's domain with a sales contact, and a plain client's own domain."""
    common = {
        "expiry_date": inputs.today + dt.timedelta(days=20),
        "code": "7K3M-Q9XD-2HPT",
        "valid_until": inputs.today + dt.timedelta(days=30),
        "mail": inputs.mail,
        "renewal_link": customer_links.sample_link(inputs.mail),
    }
    return [
        codes.confirmation_request_context(
            domain_name="bakkerijjansen.nl",
            relation_number=SAMPLE_RECIPIENT.number,
            relation_name=SAMPLE_RECIPIENT.name,
            holder_name="Bakkerij Jansen",
            sales_name="Sanne",
            sales_email=SAMPLE_RECIPIENT.sales_contact_email,
            **common,
        ),
        codes.confirmation_request_context(
            domain_name="veldhoven-webdesign.nl",
            relation_number=2024,
            relation_name="Veldhoven Webdesign",
            holder_name=None,
            sales_name=None,
            sales_email=None,
            **common,
        ),
    ]


def _sales_digest(inputs: SampleInputs) -> list[dict]:
    """The preview's (all three sections, an expired domain, a failed decision, more lines than
    listed), and each section alone (the other side of every ``if``)."""
    today = inputs.today
    run_at = dt.datetime.combine(today, dt.time(6, 0))

    def in_days(days: int) -> dt.date:
        return today + dt.timedelta(days=days)

    def expiring(name, days, number=SAMPLE_RECIPIENT.number, relation=SAMPLE_RECIPIENT.name):
        return sales_digest.expiring_line(name, in_days(days), today, number, relation)

    def queued(name, decision, years, days, hours_ago, state="queued", message=None, by="code"):
        return sales_digest.queue_line(
            name=name,
            decision=decision,
            years=years,
            expiry_date=in_days(days),
            state=state,
            message=message,
            decided_at=run_at - dt.timedelta(hours=hours_ago),
            decided_by=by,
            relation_number=SAMPLE_RECIPIENT.number,
            relation_name=SAMPLE_RECIPIENT.name,
        )

    def automated(name, action, message, hours_ago, ok=True, number=2024, relation="Veldhoven"):
        return sales_digest.automated_line(
            name=name,
            action=action,
            ok=ok,
            message=message,
            at=run_at - dt.timedelta(hours=hours_ago),
            relation_number=number,
            relation_name=relation,
        )

    expiring_lines = [
        expiring("oldshop.nl", -1, 1312, "Bakkerij Jansen"),
        expiring("denzelishome.com", 1),
        expiring("deliverystatus.org", 5),
        expiring("drivemasters.net", 28, 2024, "Veldhoven Webdesign"),
    ]
    queue_lines = [
        queued("bakkerijjansen.nl", "renew", 2, 15, 30),
        queued(
            "jansenbrood.nl",
            "decline",
            None,
            -2,
            20,
            "failed",
            "manual: 2304 Object status prohibits operation",
            "automatic job",
        ),
        queued("dommelsen.nl", "renew", 1, 40, 2, by="vdommelsen"),
    ]
    automated_lines = [
        automated("veldhoven-oud.nl", "deactivated", "deactivated at the registrar", 5),
        automated("veldhoven.shop", "renewed", "renewed for 1 year(s) until 2031-01-01", 4),
        automated("veldhoven.eu", "failed", "simulated: 2400 Command failed", 3, ok=False),
        automated("veldhoven.net", "queued for removal", None, 2),
    ]

    due_lines = [
        _alert_line("oldshop-renew.nl", -1, today, failed=True),
        _alert_line("denzelishome.nl", 2, today),
        _alert_line("deliverystatus.nl", 3, today),
    ]

    registry_lines = [
        sales_digest.registry_line(
            name="veldhoven.org",
            detail="the registry's expiry date 2027-01-02 is before ours: check it",
            at=run_at - dt.timedelta(hours=1),
            relation_number=SAMPLE_RECIPIENT.number,
            relation_name=SAMPLE_RECIPIENT.name,
        )
    ]

    def context(expiring=(), queue=(), automated=(), more=0, due=(), registry=()):
        return sales_digest.sales_digest_context(
            registry=list(registry),
            registry_count=len(registry),
            due=list(due),
            due_count=len(due) + (more if due else 0),
            sales_name="Sanne",
            sales_email=SAMPLE_RECIPIENT.sales_contact_email,
            today=today,
            since=run_at - dt.timedelta(hours=24),
            expiring=list(expiring),
            expiring_count=len(expiring) + more,
            queue=list(queue),
            queue_count=len(queue) + more,
            automated=list(automated),
            automated_count=len(automated) + more,
            mail=inputs.mail,
        )

    return [
        context(
            expiring_lines,
            queue_lines,
            automated_lines,
            more=3,
            due=due_lines,
            registry=registry_lines,
        ),
        context(due=due_lines[1:2]),
        context(queue=queue_lines[:1]),
        context(automated=automated_lines),
        context(expiring=expiring_lines[1:2]),
    ]


def _alert_line(name: str, days: int, today: dt.date, failed: bool = False, sales: bool = True):
    """A confirmed renewal expiring in ``days`` days (due by ``days`` - 3), left unexecuted."""
    return escalation.alert_line(
        name=name,
        expiry_date=today + dt.timedelta(days=days),
        today=today,
        lead_days=3,
        years=1 if failed else 2,
        state="failed" if failed else "queued",
        message="simulated: 2400 Command failed" if failed else None,
        attempts=3 if failed else 0,
        relation_number=SAMPLE_RECIPIENT.number,
        relation_name=SAMPLE_RECIPIENT.name,
        sales_name="Sanne" if sales else None,
        sales_email=SAMPLE_RECIPIENT.sales_contact_email if sales else None,
    )


def _escalation_alert(inputs: SampleInputs) -> list[dict]:
    """The preview's (to the sales contact on the due date: one due today, one overdue that
    failed), the escalation mailbox's on the expiry day, and a sales-level alert that went to
    the escalation mailbox because the relation has no sales contact."""
    today = inputs.today

    def context(level, alerts, recipient_name="", no_sales_contact=False):
        return escalation.escalation_alert_context(
            level=level,
            recipient_name=recipient_name,
            no_sales_contact=no_sales_contact,
            today=today,
            lead_days=3,
            alerts=alerts,
            mail=inputs.mail,
        )

    return [
        context(
            "sales",
            [_alert_line("dommelsen.nl", 3, today), _alert_line("oldshop.nl", 1, today, True)],
            "Sanne",
        ),
        context("escalation", [_alert_line("oldshop.nl", 0, today, True)]),
        context("sales", [_alert_line("nocontact.nl", 3, today, sales=False)], "", True),
    ]


# --- receipts to customers ----------------------------------------------------------------------

_SAMPLE_RELATION = {"number": SAMPLE_RECIPIENT.number, "name": SAMPLE_RECIPIENT.name}
_SAMPLE_SALES = {"name": "Sanne", "email": SAMPLE_RECIPIENT.sales_contact_email}


def _receipt_line(name: str, expiry: dt.date, client: str | None = None, **extra) -> dict:
    return {"name": name, "client": client, "expiry_date": expiry.isoformat(), **extra}


def _receipt_decisions(inputs: SampleInputs) -> list[dict]:
    """The preview's (renewals and a decline, one a client's), only renewals without a sales
    contact, and only declines."""
    today = inputs.today
    renew = [
        _receipt_line("deliverystatus.org", today + dt.timedelta(days=5), years=1),
        _receipt_line(
            "bakkerijjansen.nl", today + dt.timedelta(days=15), "Bakkerij Jansen", years=3
        ),
    ]
    decline = [_receipt_line("drivemasters.net", today + relativedelta(months=2))]

    def context(renew, decline, sales_contact=_SAMPLE_SALES):
        payload = receipts.decisions_payload(_SAMPLE_RELATION, renew, decline, sales_contact)
        return receipts.receipt_context(
            RECEIPT_DECISIONS, payload, inputs.mail, customer_links.sample_link(inputs.mail)
        )

    return [context(renew, decline), context(renew[:1], [], None), context([], decline)]


def _receipt_renewed(inputs: SampleInputs) -> list[dict]:
    """A reseller's client's domain with a sales contact, and an own domain without one."""
    expiry = inputs.today + dt.timedelta(days=5)
    client = _receipt_line(
        "bakkerijjansen.nl",
        expiry,
        "Bakkerij Jansen",
        years=2,
        new_expiry_date=(expiry + relativedelta(years=2)).isoformat(),
    )
    own = _receipt_line(
        "deliverystatus.org",
        expiry,
        years=1,
        new_expiry_date=(expiry + relativedelta(years=1)).isoformat(),
    )
    return [
        receipts.receipt_context(
            RECEIPT_RENEWED,
            receipts.renewed_payload(_SAMPLE_RELATION, client, _SAMPLE_SALES),
            inputs.mail,
            customer_links.sample_link(inputs.mail),
        ),
        receipts.receipt_context(
            RECEIPT_RENEWED,
            receipts.renewed_payload(_SAMPLE_RELATION, own, None),
            inputs.mail,
            customer_links.sample_link(inputs.mail),
        ),
    ]


def _receipt_removed(inputs: SampleInputs) -> list[dict]:
    """A deactivated client's domain with a sales contact, and a deleted own domain without."""
    expired = inputs.today - dt.timedelta(days=1)
    client = _receipt_line("jansenbrood.nl", expired, "Bakkerij Jansen")
    own = _receipt_line("drivemasters.net", expired)
    return [
        receipts.receipt_context(
            RECEIPT_REMOVED,
            receipts.removed_payload(_SAMPLE_RELATION, client, "deactivated", _SAMPLE_SALES),
            inputs.mail,
            customer_links.sample_link(inputs.mail),
        ),
        receipts.receipt_context(
            RECEIPT_REMOVED,
            receipts.removed_payload(_SAMPLE_RELATION, own, "deleted", None),
            inputs.mail,
            customer_links.sample_link(inputs.mail),
        ),
    ]


def _customer_link(inputs: SampleInputs) -> list[dict]:
    """A fresh link asked for on the page an expired or revoked link leads to: the sample
    reseller's with the default lifetime, and a plain client's with a week."""
    link = customer_links.sample_link(inputs.mail)
    return [
        customer_links.fresh_link_context(
            relation_number=SAMPLE_RECIPIENT.number,
            relation_name=SAMPLE_RECIPIENT.name,
            renewal_link=link,
            valid_days=customer_links.DEFAULT_DAYS,
        ),
        customer_links.fresh_link_context(
            relation_number=2024,
            relation_name="Veldhoven Webdesign",
            renewal_link=link,
            valid_days=7,
        ),
    ]


#: Template name → sample builder. A template name without one cannot be saved or previewed.
BUILDERS: dict[str, Callable[[SampleInputs], list[dict]]] = {
    RENEWAL_REMINDER: _renewal_reminder,
    SALES_DECISIONS: _sales_decisions,
    CONFIRMATION_REQUEST: _confirmation_request,
    SALES_DIGEST: _sales_digest,
    ESCALATION_ALERT: _escalation_alert,
    RECEIPT_DECISIONS: _receipt_decisions,
    RECEIPT_RENEWED: _receipt_renewed,
    RECEIPT_REMOVED: _receipt_removed,
    CUSTOMER_LINK: _customer_link,
}


def has_samples(name: str) -> bool:
    """Whether templates called ``name`` can be checked and previewed."""
    return name in BUILDERS


def sample_contexts(
    name: str,
    language: str,
    today: dt.date,
    mail: mailer.MailSettings,
    reminder_settings: ReminderSettings | None = None,
) -> list[dict]:
    """The contexts a template called ``name`` must render for; the first is the preview's.

    ``reminder_settings`` (for reminders: the renewal link) defaults to the reminder defaults;
    its mail settings are always ``mail``. Raises ``KeyError`` for a name without samples."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        known = ", ".join(sorted(BUILDERS))
        raise KeyError(
            f"no sample data for email template {name!r} (known: {known}); "
            "add a builder to renewal_reminder.renewals.template_samples.BUILDERS"
        ) from None
    if reminder_settings is None:
        reminder_settings = ReminderSettings.from_config({})
    reminder_settings = dataclasses.replace(reminder_settings, mail=mail)
    contexts = builder(SampleInputs(language, today, mail, reminder_settings))
    assert contexts, f"the sample builder of {name!r} returned no context"
    return contexts


# --- the variables a template can use -----------------------------------------------------------


def available_variables(contexts: list[dict]) -> list[dict]:
    """The variables of a kind of template, for the edit page: the first context's keys, in
    order, each ``{"name", "fields", "list", "may_be_empty"}``. ``fields`` are the keys of a
    dict value, or of a list's items (described the same way); ``may_be_empty`` is true when
    any sample has the value empty (``None``, ``""``, ``[]``)."""
    if not contexts:
        return []
    return _describe(list(contexts[0]), contexts)


def _describe(names: list[str], values: list[dict]) -> list[dict]:
    result = []
    for name in names:
        found = [value[name] for value in values if isinstance(value, dict) and name in value]
        is_list = any(isinstance(value, (list, tuple)) for value in found)
        members = []
        for value in found:
            if is_list and isinstance(value, (list, tuple)):
                members.extend(item for item in value if isinstance(item, dict))
            elif isinstance(value, dict):
                members.append(value)
        field_names = list(dict.fromkeys(key for member in members for key in member))
        result.append(
            {
                "name": name,
                "list": is_list,
                "may_be_empty": any(value is None or value in ("", [], ()) for value in found),
                "fields": _describe(field_names, members),
            }
        )
    return result


# --- Invitations and password resets ------------------------------------------------------------

from renewal_reminder.renewals.email_templates import INVITATION, PASSWORD_RESET  # noqa: E402


def _invitation(inputs: SampleInputs) -> list[dict]:
    """An invitation to a relation with a sales contact, and one without."""
    from renewal_reminder.renewals import invitations

    expires_on = inputs.today + dt.timedelta(days=invitations.INVITATION_DAYS)
    link = inputs.mail.url("/invitation/#t=sample-token")
    with_contact = invitations.invitation_context(
        relation_number=SAMPLE_RECIPIENT.number,
        relation_name=SAMPLE_RECIPIENT.name,
        login=SAMPLE_RECIPIENT.email,
        invitation_link=link,
        expires_on=expires_on,
        sales_contact={
            "name": SAMPLE_RECIPIENT.sales_contact_name,
            "email": SAMPLE_RECIPIENT.sales_contact_email,
        },
    )
    return [with_contact, {**with_contact, "sales_contact": None}]


def _password_reset(inputs: SampleInputs) -> list[dict]:
    """A customer's login, and a staff login without a name (the login name stands in)."""
    from renewal_reminder.renewals import password_resets

    link = inputs.mail.url("/account/reset-password#t=sample-token")
    return [
        password_resets.reset_context(
            name=SAMPLE_RECIPIENT.name, login=SAMPLE_RECIPIENT.email, reset_link=link
        ),
        password_resets.reset_context(
            name=SAMPLE_RECIPIENT.sales_contact_email,
            login=SAMPLE_RECIPIENT.sales_contact_email,
            reset_link=link,
        ),
    ]


BUILDERS.update(
    {
        INVITATION: _invitation,
        PASSWORD_RESET: _password_reset,
    }
)
