"""The automated renewal reminder: who is due for what today, the digests, and the send run.

One path serves the scheduler and ``flask reminders send``:
``send_reminders`` → ``due`` (a few indexed range queries) → ``digests`` (one per recipient)
→ claim the reminders in the log → send over one ``mailer.Outbox`` connection → mark each
email's reminders sent, or failed so the next run retries them, as soon as that email is done.

Exactly once, even with two app servers running the job at the same moment: a reminder is
sent only by the run whose claim wrote its ``ReminderLog`` row (unique per domain, expiry
date and offset); a concurrent run's claim of the same row is ignored by the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import String, literal_column, select, type_coerce
from sqlalchemy.orm import Session, aliased, selectinload

from renewal_reminder.models import (
    AWAITING_DECISION,
    Domain,
    JobRun,
    Relation,
    ReminderLog,
    ReminderStatus,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.models.domain import unicode_domain_name
from renewal_reminder.renewals import bulk_rows, email_templates, mailer
from renewal_reminder.renewals.automation import AutomationSettings
from renewal_reminder.renewals.calendar import (
    DEFAULT_OFFSETS,
    Offset,
    due_offset,
    due_ranges,
    parse_offsets,
    remaining,
)
from renewal_reminder.renewals.claims import (
    OutcomeRecorder,
    claim,
    claimable,
    outcome_update,
    record_outcomes,
)
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

log = logging.getLogger(__name__)

#: Digests claimed, sent and recorded per transaction.
CHUNK_SIZE = 200
#: A claim this old belongs to a run that died before recording the result: take it over.
STALE_CLAIM = dt.timedelta(minutes=30)
_RETRYABLE = (ReminderStatus.failed, ReminderStatus.skipped)


@dataclass(frozen=True)
class ReminderSettings:
    offsets: tuple[Offset, ...]
    catchup_days: int
    mail: mailer.MailSettings
    bcc: tuple[str, ...] = ()
    #: What the removal job does to undecided domains, and when: what reminders may promise.
    removal: AutomationSettings = AutomationSettings(False, False, 0)
    #: Whether the registrar backend carries out deletions (``RegistrarBackend.can_execute``).
    registrar_executes: bool = False

    @classmethod
    def from_config(cls, config: Mapping) -> ReminderSettings:
        """Read REMINDER_* settings; raises ``InvalidValue`` (or ``InvalidOffsets``) if bad."""
        offsets = parse_offsets(str(config.get("REMINDER_OFFSETS") or DEFAULT_OFFSETS))
        try:
            catchup = int(config.get("REMINDER_CATCHUP_DAYS", 7))
        except (TypeError, ValueError):
            raise InvalidValue("REMINDER_CATCHUP_DAYS must be a whole number of days") from None
        if catchup < 0:
            raise InvalidValue("REMINDER_CATCHUP_DAYS cannot be negative")
        bcc_text = config.get("REMINDER_BCC") or ""
        bcc = tuple(normalize_email(a) for a in str(bcc_text).split(",") if a.strip())
        return cls(
            offsets=offsets,
            catchup_days=catchup,
            mail=mailer.MailSettings.from_config(config),
            bcc=bcc,
            removal=AutomationSettings.from_config(config),
        )

    @property
    def calendar(self) -> str:
        """The offsets as one text (``JobRun.reminder_offsets``): "3m,2m,1m,15d,...,0d"."""
        return ",".join(offset.code for offset in self.offsets)

    @property
    def renewal_url(self) -> str:
        return self.mail.url("/renewals/")


# Not frozen: a frozen dataclass's __init__ costs ten times as much, and a day's due set at
# a million domains holds some 20,000 of these.
@dataclass(slots=True)
class DueReminder:
    domain_id: int
    domain_name: str
    expiry_date: dt.date
    offset: Offset
    holder_id: int
    holder_name: str
    recipient_id: int
    #: The existing log row when this is a retry of a failed or abandoned reminder.
    log_id: int | None

    @property
    def key(self) -> tuple[int, dt.date, str]:
        return (self.domain_id, self.expiry_date, self.offset.code)


def due(
    session: Session,
    today: dt.date,
    settings: ReminderSettings,
    now: dt.datetime | None = None,
) -> list[DueReminder]:
    """Every reminder due today and not yet sent (nor being sent by a live run).

    Only domains awaiting a decision for their current expiry date are considered; the log is
    keyed by expiry date, so a renewed domain's new date starts a fresh calendar. A reminder
    is due when its offset is the domain's current one and its date lies within the last
    ``catchup_days`` days (``calendar.due_offset``). Three reads find them without going over
    what earlier runs already handled:

    - the days no finished run has covered yet (``first_day_to_cover``): a handful of indexed
      range queries of expiry dates, for reminders not in the log;
    - the late arrivals: domains added or changed since the last run started (less
      ``LATE_ARRIVAL_MARGIN``), whose reminder date lies before those days (imported after
      the run, an expiry date corrected);
    - the retries: log rows that failed, were skipped, or were claimed by a run that died,
      read through the log's partial index of rows not sent.

    Whatever the three find, the log's unique key still decides who sends (``_claim``).
    """
    stale_before = (now or utcnow()) - STALE_CLAIM
    last_run = last_covering_run(session, today, settings.calendar)
    first_day = first_day_to_cover(
        today, settings.catchup_days, last_run.run_date if last_run else None
    )
    reminders = _never_logged_in_window(session, today, settings, first_day)
    if last_run is not None and first_day > today - dt.timedelta(days=settings.catchup_days):
        changed_since = last_run.started_at - LATE_ARRIVAL_MARGIN
        reminders += _late_arrivals(session, today, settings, first_day, changed_since)
    reminders += _retries(session, today, settings, stale_before)
    return reminders


#: The ``JobRun.job`` of the reminder run (``jobs.run_reminders``).
JOB_NAME = "reminders"
#: How long before the last covering run started a change may have been stamped and still
#: not been seen by it: ``updated_at`` is set when a row is written, not when its transaction
#: commits (a portfolio import stamps every row at its start, a registrar sync batch waits
#: for the registry), and app servers' clocks differ a little. Reading further back only
#: costs a few more rows: the log keeps out what was sent.
LATE_ARRIVAL_MARGIN = dt.timedelta(hours=6)


def last_covering_run(session: Session, today: dt.date, calendar: str) -> JobRun | None:
    """The latest run for an earlier day that handled everything due that day: it finished
    with every email sent or logged for a retry (``RunSummary.ok``), was not a dry run, and
    used today's calendar (a new offset's dates were nobody's to cover)."""
    return session.scalar(
        select(JobRun)
        .where(
            JobRun.job == JOB_NAME,
            JobRun.ok.is_(True),
            JobRun.dry_run.is_(False),
            JobRun.run_date < today,
            JobRun.reminder_offsets == calendar,
        )
        .order_by(JobRun.run_date.desc(), JobRun.started_at.desc())
        .limit(1)
    )


def first_day_to_cover(
    today: dt.date, catchup_days: int, last_covered_day: dt.date | None
) -> dt.date:
    """The earliest reminder date today's run looks at for domains that have not changed:
    the day after the last covering run's, and never more than ``catchup_days`` back."""
    earliest = today - dt.timedelta(days=catchup_days)
    if last_covered_day is None:
        return earliest
    return max(earliest, last_covered_day + dt.timedelta(days=1))


def _due_reminder(row, offset: Offset, log_id: int | None = None) -> DueReminder:
    """``row``: the values of ``_DUE_COLUMNS``."""
    domain_id, name, expiry, holder_id, holder_name, parent_id, to_reseller = row
    recipient_id = parent_id if (parent_id is not None and to_reseller) else holder_id
    return DueReminder(
        domain_id, name, expiry, offset, holder_id, holder_name, recipient_id, log_id
    )


_DUE_COLUMNS = (
    Domain.id,
    Domain.name,
    Domain.expiry_date,
    Relation.id,
    Relation.name,
    Relation.parent_id,
    Relation.reminders_to_reseller,
)


def _never_logged_in_window(
    session: Session, today: dt.date, settings: ReminderSettings, first_day: dt.date
) -> list[DueReminder]:
    """Reminders dated ``first_day`` to today with no log row: one range query per offset.

    Each range is read from the covering index ``ix_rr_domain_expiry_name`` (the status is
    in it) without touching the table: the status test is written so that no index on the
    status serves it (SQLite would otherwise take the (status, expiry_date) index and look
    up every row). The log is not joined to every candidate: the reminders it holds for these
    days (usually none: the days no finished run covered) are read once and left out here.
    The rows are read as the driver gives them (``bulk_rows.driver_rows``): tens of thousands
    at a million domains.
    """
    connection = session.connection()
    logged = {
        tuple(key)
        for key in connection.execute(
            select(ReminderLog.domain_id, ReminderLog.expiry_date, ReminderLog.offset_code).where(
                ReminderLog.reminder_date.between(first_day, today)
            )
        )
    }
    awaiting = [status.value for status in AWAITING_DECISION]
    expiry_dates = bulk_rows.StoredValues(session, Domain.__table__, "expiry_date")
    reminders = []
    for expiry_range in due_ranges(settings.offsets, today, (today - first_day).days):
        offset = expiry_range.offset
        query = (
            select(*_DUE_COLUMNS)
            .join(Relation, Relation.id == Domain.relation_id)
            .where(
                Domain.expiry_date.between(expiry_range.first, expiry_range.last),
                type_coerce(Domain.status, String()).concat("").in_(awaiting),
            )
        )
        code = offset.code
        for row in bulk_rows.driver_rows(connection, query):
            domain_id, name, stored_expiry, *relation = row
            expiry = expiry_dates[stored_expiry]
            if (domain_id, expiry, code) not in logged:
                reminders.append(_due_reminder((domain_id, name, expiry, *relation), offset))
    return reminders


def _late_arrivals(
    session: Session,
    today: dt.date,
    settings: ReminderSettings,
    first_day: dt.date,
    changed_since: dt.datetime,
) -> list[DueReminder]:
    """Domains added or changed since ``changed_since`` whose due reminder is dated before
    ``first_day`` (so the window's queries do not see it) and is not in the log.

    Read through ``ix_rr_domain_updated`` alone (status and dates are checked here, not in
    SQL, so that no planner prefers the status index and reads every undecided domain).
    """
    by_key: dict[tuple[int, dt.date, str], tuple] = {}
    offsets: dict[tuple[int, dt.date, str], Offset] = {}
    query = (
        select(*_DUE_COLUMNS, Domain.status)
        .join(Relation, Relation.id == Domain.relation_id)
        .where(Domain.updated_at >= changed_since)
    )
    for *columns, status in session.execute(query):
        if status not in AWAITING_DECISION:
            continue
        domain_id, expiry = columns[0], columns[2]
        offset = due_offset(settings.offsets, expiry, today, settings.catchup_days)
        if offset is None or offset.reminder_date(expiry) >= first_day:
            continue
        key = (domain_id, expiry, offset.code)
        by_key[key] = columns
        offsets[key] = offset
    domain_ids = sorted({key[0] for key in by_key})
    for start in range(0, len(domain_ids), _IN_BATCH):
        logged = session.execute(
            select(ReminderLog.domain_id, ReminderLog.expiry_date, ReminderLog.offset_code).where(
                ReminderLog.domain_id.in_(domain_ids[start : start + _IN_BATCH])
            )
        )
        for key in logged:
            by_key.pop(tuple(key), None)  # sent, or a retry (``_retries`` has it)
    return [_due_reminder(row, offsets[key]) for key, row in by_key.items()]


#: Ids per ``IN (...)`` list.
_IN_BATCH = 500


def _retries(
    session: Session, today: dt.date, settings: ReminderSettings, stale_before: dt.datetime
) -> list[DueReminder]:
    """Logged reminders not sent (failed, skipped, or claimed by a run that died) that are
    still due: the domain still awaits a decision for the same expiry date, and the
    reminder is still its current one within the catch-up window."""
    earliest = today - dt.timedelta(days=settings.catchup_days)
    offsets = {offset.code: offset for offset in settings.offsets}
    # The few rows not sent, dated in the window, through the partial index alone; then the
    # claim rule on those. (As one flat query, SQLite would rather OR two lookups of the
    # (status, created_at) index, which also reads every old failed row.)
    unsent = aliased(ReminderLog)
    unsent_in_window = select(unsent.id).where(
        unsent.status != literal_column("'sent'"),  # the partial index's own condition
        unsent.reminder_date.between(earliest, today),
    )
    query = (
        select(*_DUE_COLUMNS, ReminderLog.id, ReminderLog.offset_code)
        .select_from(ReminderLog)
        .join(Domain, Domain.id == ReminderLog.domain_id)
        .join(Relation, Relation.id == Domain.relation_id)
        .where(
            ReminderLog.id.in_(unsent_in_window),
            claimable(ReminderLog, _RETRYABLE, ReminderStatus.sending, stale_before),
            Domain.expiry_date == ReminderLog.expiry_date,
            Domain.status.in_(AWAITING_DECISION),
        )
    )
    reminders = []
    for *columns, log_id, offset_code in session.execute(query):
        offset = offsets.get(offset_code)
        expiry = columns[2]
        if (
            offset is None
            or due_offset(settings.offsets, expiry, today, settings.catchup_days) != offset
        ):
            continue  # a newer reminder is due instead, or the offset left the settings
        reminders.append(_due_reminder(columns, offset, log_id))
    return reminders


@dataclass(frozen=True)
class Recipient:
    relation_id: int
    number: int
    name: str
    email: str
    language: str
    sales_contact_name: str | None
    sales_contact_email: str | None
    #: Where a reply goes (``notifications.reply_to_for``); ``None``: no ``Reply-To``.
    reply_to: str | None = None
    #: The recipient's personal link to its renewal page (``customer_links``), made when the
    #: recipients are loaded with mail settings; ``None``: the plain page URL stands in.
    renewal_link: str | None = None


@dataclass
class Digest:
    """One email: every reminder due today for one recipient relation."""

    recipient: Recipient
    reminders: list[DueReminder]


def digests(
    session: Session, reminders: Iterable[DueReminder], mail: mailer.MailSettings | None = None
) -> list[Digest]:
    """Group reminders per recipient (the holder, or its reseller when routed there). With
    ``mail``, each recipient's ``reply_to`` may fall back to SALES_FALLBACK_EMAIL."""
    by_recipient: dict[int, list[DueReminder]] = defaultdict(list)
    for reminder in reminders:
        by_recipient[reminder.recipient_id].append(reminder)
    recipients = _load_recipients(session, list(by_recipient), mail)
    result = [Digest(recipients[rid], items) for rid, items in by_recipient.items()]
    result.sort(key=lambda digest: digest.recipient.number)
    return result


def _load_recipients(
    session: Session, relation_ids: list[int], mail: mailer.MailSettings | None
) -> dict[int, Recipient]:
    """The recipients as plain values (they outlive the run's commits), with the sales contact
    the other customer emails name (``notifications.sales_contact_of``: the relation's, or its
    reseller's, when active)."""
    from renewal_reminder.renewals.customer_links import link_for
    from renewal_reminder.renewals.notifications import reply_to_for, sales_contact_of

    recipients = {}
    for start in range(0, len(relation_ids), 900):
        chunk = relation_ids[start : start + 900]
        relations = session.scalars(
            select(Relation)
            .where(Relation.id.in_(chunk))
            .options(
                selectinload(Relation.sales_contact),
                selectinload(Relation.parent).selectinload(Relation.sales_contact),
            )
        )
        for relation in relations:
            contact = sales_contact_of(relation)
            sales_name = (
                " ".join(part for part in (contact.first_name, contact.last_name) if part) or None
                if contact is not None
                else None
            )
            recipients[relation.id] = Recipient(
                relation.id,
                relation.number,
                relation.name,
                relation.billing_email,
                relation.language,
                sales_name,
                contact.email if contact is not None else None,
                reply_to_for(relation, mail),
                link_for(mail, relation.id, relation.link_version) if mail is not None else None,
            )
    return recipients


_PHRASES = {
    "en": {
        "months": ("1 month", "{n} months"),
        "days": ("1 day", "{n} days"),
        "expire_in": "expire in {label}",
        "today": ("today", "expire today"),
        "expired": ("1 day ago", "{n} days ago", "expired {label}"),
    },
    "nl": {
        "months": ("1 maand", "{n} maanden"),
        "days": ("1 dag", "{n} dagen"),
        "expire_in": "verlopen over {label}",
        "today": ("vandaag", "verlopen vandaag"),
        "expired": ("1 dag geleden", "{n} dagen geleden", "zijn {label} verlopen"),
    },
}


def describe(expiry: dt.date, today: dt.date, offset: Offset, language: str) -> tuple[str, str]:
    """``(label, phrase)`` for a digest line, e.g. ``("5 days", "expire in 5 days")``."""
    words = _PHRASES.get(language, _PHRASES["en"])
    left = remaining(expiry, today, offset)
    if left.unit == "today":
        return words["today"]
    if left.unit == "expired":
        one, many, phrase = words["expired"]
        label = one if left.count == 1 else many.format(n=left.count)
        return label, phrase.format(label=label)
    one, many = words[left.unit]
    label = one if left.count == 1 else many.format(n=left.count)
    return label, words["expire_in"].format(label=label)


def digest_context(digest: Digest, today: dt.date, settings: ReminderSettings) -> dict:
    """What a reminder template can use: plain values only (it renders in a sandbox)."""
    recipient = digest.recipient
    groups: dict[str, dict] = {}
    for reminder in sorted(digest.reminders, key=lambda r: (r.expiry_date, r.domain_name)):
        label, phrase = describe(reminder.expiry_date, today, reminder.offset, recipient.language)
        group = groups.setdefault(
            label,
            {
                "label": label,
                "phrase": phrase,
                "days_left": (reminder.expiry_date - today).days,
                "domains": [],
            },
        )
        removal = settings.removal
        group["domains"].append(
            {
                "name": unicode_domain_name(reminder.domain_name),
                "expiry_date": reminder.expiry_date.isoformat(),
                # Only when the job will delete it: a reminder promises nothing else.
                "deletion_date": (
                    removal.removal_date(reminder.expiry_date).isoformat()
                    if removal.will_delete(settings.registrar_executes)
                    else None
                ),
                "client": reminder.holder_name
                if reminder.holder_id != recipient.relation_id
                else None,
            }
        )
    return {
        "relation": {"number": recipient.number, "name": recipient.name, "email": recipient.email},
        "sales_contact": (
            {
                "name": recipient.sales_contact_name or recipient.sales_contact_email,
                "email": recipient.sales_contact_email,
            }
            if recipient.sales_contact_email
            else None
        ),
        "groups": sorted(groups.values(), key=lambda group: group["days_left"]),
        "domain_count": len(digest.reminders),
        # The deletion reminder: some domain expires today (its own subject and wording).
        "expires_today": any(r.expiry_date == today for r in digest.reminders),
        "deletes": settings.removal.will_delete(settings.registrar_executes),
        # The recipient's personal link (a client whose reminders go to its reseller: the
        # reseller's, which also opens the client's domains); ``renewal_url`` is the plain page
        # (a login), kept for templates written before the link.
        "renewal_link": recipient.renewal_link or settings.renewal_url,
        "renewal_url": settings.renewal_url,
        "base_url": settings.mail.base_url,
        "today": today.isoformat(),
    }


@dataclass
class RunSummary:
    run_date: dt.date
    dry_run: bool = False
    recipients: int = 0
    domains: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __str__(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        return (
            f"reminders {self.run_date}: {self.recipients} recipients, {self.domains} domains; "
            f"{verb} {self.sent}, failed {self.failed}, skipped {self.skipped}"
        )


def send_reminders(
    session: Session,
    mail_state,
    today: dt.date,
    settings: ReminderSettings,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunSummary:
    """One reminder run for ``today``: at most one email per recipient. Safe to run twice or
    concurrently. ``mail_state`` is Flask-Mail's settings (``session.current_mail()``)."""
    summary = RunSummary(today, dry_run)
    all_digests = digests(session, due(session, today, settings), settings.mail)
    if dry_run:
        for digest in all_digests:
            summary.recipients += 1
            summary.domains += len(digest.reminders)
            summary.sent += 1
            if echo:
                names = ", ".join(r.domain_name for r in digest.reminders)
                echo(
                    f"would send to {digest.recipient.email} (#{digest.recipient.number}): {names}"
                )
        return summary
    templates = email_templates.TemplateCache(session)
    # One SMTP connection per run, and one database connection recording the outcomes.
    with (
        mailer.Outbox(mail_state, settings.mail.sender) as outbox,
        OutcomeRecorder(session, _RECORD) as recorder,
    ):
        for start in range(0, len(all_digests), CHUNK_SIZE):
            chunk = all_digests[start : start + CHUNK_SIZE]
            _send_chunk(session, outbox, today, settings, chunk, templates, summary, recorder)
    log.info("%s", summary)
    return summary


def _send_chunk(session, outbox, today, settings, chunk, templates, summary, recorder) -> None:
    """Claim the chunk, then send its digests one by one, recording each one's outcome (and
    committing) as soon as it is known: a run that dies after email N has recorded 1..N.

    The outcomes are committed by ``recorder`` (``claims.OutcomeRecorder``) while the next
    email is built and sent; only the message itself, after which the server accepts it,
    waits for the commit. The session has committed everything before the sending starts and
    writes nothing during it; the chunk ends once every outcome is committed, before the
    next chunk's claim."""
    token = uuid.uuid4().hex
    owned = _claim(session, today, chunk, token)
    outgoing, skipped = [], []
    for digest in chunk:
        mine = [r for r in digest.reminders if r.key in owned]
        if not mine:
            continue  # another run has them
        digest = Digest(digest.recipient, mine)
        summary.recipients += 1
        summary.domains += len(mine)
        try:
            to = normalize_email(digest.recipient.email)
        except InvalidValue as exc:
            skipped.append((digest, str(exc)))
            continue
        source = templates.get(email_templates.RENEWAL_REMINDER, digest.recipient.language)
        outgoing.append(
            mailer.OutgoingEmail(
                to,
                _renderer(source, digest, today, settings),
                list(settings.bcc),
                tag=digest,
                reply_to=digest.recipient.reply_to,
            )
        )

    updates = []
    for digest, reason in skipped:
        summary.skipped += 1
        summary.problems.append(f"#{digest.recipient.number} skipped: {reason}")
        updates += _outcome(
            owned, digest, digest.recipient.email[:254], ReminderStatus.skipped, reason, None
        )
    record_outcomes(session, _RECORD, updates)
    session.commit()  # nothing to write: ends the claim's read, the recorder writes from here
    # The next email is rendered and built in a second thread while this one is sent and
    # recorded: the renderer works on plain values only (``_renderer``).
    for result in outbox.send(outgoing, build_ahead=True, before_accept=recorder.wait):
        digest = result.email.tag
        if result.ok:
            summary.sent += 1
            status, error, sent_at = ReminderStatus.sent, None, utcnow()
        elif result.template_problem:  # nothing sent: the template needs fixing
            summary.skipped += 1
            summary.problems.append(f"#{digest.recipient.number} skipped: {result.error}")
            status, error, sent_at = ReminderStatus.skipped, result.error, None
        else:
            summary.failed += 1
            summary.problems.append(f"#{digest.recipient.number} {result.email.to}: {result.error}")
            status, error, sent_at = ReminderStatus.failed, result.error, None
        recorder.record(_outcome(owned, digest, result.email.to[:254], status, error, sent_at))
    recorder.wait()


def _renderer(source, digest, today, settings) -> Callable[[], email_templates.RenderedEmail]:
    """The digest's email, rendered when ``Outbox`` builds it (so a failure is its own), in
    ``Outbox``'s builder thread: it uses the digest's plain values and the template's source,
    never the session."""
    return lambda: email_templates.render(source, digest_context(digest, today, settings))


#: One log row's outcome.
_RECORD = outcome_update(ReminderLog.__table__)


def _outcome(owned, digest, recipient, status, error, sent_at) -> list[dict]:
    return [
        {
            "log_id": owned[r.key][0],
            "status": status,
            "recipient": recipient,
            "error": error,
            "sent_at": sent_at,
            "attempts": owned[r.key][1] + 1,
        }
        for r in digest.reminders
    ]


def _claim(
    session: Session, today: dt.date, chunk: list[Digest], token: str
) -> dict[tuple[int, dt.date, str], tuple[int, int]]:
    """Claim the chunk's reminders for this run; return ``{key: (log id, attempts)}`` of those
    this run now owns (a concurrent run's claims are left out). Commits."""
    now = utcnow()
    new_rows, retry_ids = [], []
    for digest in chunk:
        for reminder in digest.reminders:
            if reminder.log_id is None:
                new_rows.append(
                    {
                        "domain_id": reminder.domain_id,
                        "expiry_date": reminder.expiry_date,
                        "offset_code": reminder.offset.code,
                        "reminder_date": reminder.offset.reminder_date(reminder.expiry_date),
                        "run_date": today,
                        "recipient": digest.recipient.email[:254],
                    }
                )
            else:
                retry_ids.append(reminder.log_id)
    return claim(
        session,
        ReminderLog,
        key_columns=["domain_id", "expiry_date", "offset_code"],
        new_rows=new_rows,
        retry_ids=retry_ids,
        token=token,
        now=now,
        retryable=_RETRYABLE,
        sending=ReminderStatus.sending,
        stale_before=now - STALE_CLAIM,
        run_date=today,
    )
