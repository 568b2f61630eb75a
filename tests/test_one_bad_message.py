"""One bad message never stops a run: an address with a non-ASCII local part, or any exception
while building or sending one email, fails that email only (with its reason in the log), every
other recipient gets theirs exactly once, and each email's outcome is recorded as it happens.

Two real SMTP servers on loopback: conftest's, which offers SMTPUTF8 (aiosmtpd's Controller
does by default), and one here that does not."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event, select, update

from renewal_reminder import settings
from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import (
    ConfirmationRequest,
    Domain,
    JobRun,
    Relation,
    ReminderLog,
    ReminderStatus,
    SalesDigestLog,
    SalesDigestStatus,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import email_templates, mailer, reminders
from renewal_reminder.renewals.claims import OutcomeRecorder
from renewal_reminder.renewals.email_templates import RenderedEmail, ensure_default_templates
from renewal_reminder.renewals.mailer import MailSettings
from renewal_reminder.renewals.sales_digest import send_sales_digests
from renewal_reminder.session import current_session
from tests.conftest import _free_port, _Inbox, login

TODAY = dt.date.today()
ANNA, MULLER, CARL = "anna@example.com", "müller@example.nl", "carl@example.com"
NO_SMTPUTF8 = f"the mail server does not accept international (SMTPUTF8) addresses: {MULLER}"


@pytest.fixture(scope="module")
def _ascii_only_controller():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), enable_SMTPUTF8=False)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def ascii_only_smtp(app, _ascii_only_controller, monkeypatch):
    """Point the test app at an SMTP server without SMTPUTF8 (for this test only); its inbox,
    emptied."""
    controller, inbox = _ascii_only_controller
    inbox.clear()
    monkeypatch.setattr(app.extensions["renewal_reminder"].mail, "port", controller.port)
    return inbox


class SimulatedCrash(BaseException):
    """The process dies (a kill, an out-of-memory): nothing in the app catches it."""


def fail_building_for(monkeypatch, address: str, exception: BaseException) -> None:
    """Make the MIME builder raise for one recipient."""
    build = mailer._mime

    def patched(outgoing, *args, **kwargs):
        if outgoing.to == address:
            raise exception
        return build(outgoing, *args, **kwargs)

    monkeypatch.setattr(mailer, "_mime", patched)


def abandon_claims(session, model) -> None:
    """Make the claims left by a run that died old enough to be taken over."""
    session.execute(update(model).values(claimed_at=utcnow() - dt.timedelta(hours=1)))
    session.commit()


def received(inbox) -> list[str]:
    return sorted(recipients[0] for _sender, recipients in inbox.envelopes)


# --- the reminder run -------------------------------------------------------------------------


@pytest.fixture
def customers(session):
    """Three customers, each with a domain due for its 5-day reminder: Anna, Müller, Carl."""
    ensure_default_templates(session)
    for i, address in enumerate((ANNA, MULLER, CARL)):
        relation = Relation(number=3001 + i, name=f"Customer {i}", billing_email=address)
        session.add(relation)
        session.add(
            Domain(name=f"customer-{i}.com", relation=relation, expiry_date=TODAY + dt.timedelta(5))
        )
    session.commit()


def reminder_log(session) -> dict[str, ReminderLog]:
    session.expire_all()
    return {row.recipient: row for row in session.scalars(select(ReminderLog))}


def test_reminders_to_an_international_address_go_with_smtputf8(app, session, smtp, customers):
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (3, 0), summary.problems
    assert received(smtp) == sorted([ANNA, CARL, MULLER])
    [message] = smtp.to(MULLER)
    assert message["To"] == MULLER
    assert "customer-1.com" in message.get_body(("plain",)).get_content()
    assert {row.status for row in reminder_log(session).values()} == {ReminderStatus.sent}
    assert run_reminders(app, TODAY).sent == 0
    assert len(smtp.messages) == 3


def test_without_smtputf8_only_the_international_address_fails(
    app, session, ascii_only_smtp, customers
):
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1)
    assert summary.problems == [f"#3002 {MULLER}: {NO_SMTPUTF8}"]
    assert received(ascii_only_smtp) == [ANNA, CARL]
    rows = reminder_log(session)
    assert rows[MULLER].status is ReminderStatus.failed
    assert rows[MULLER].error == NO_SMTPUTF8 and rows[MULLER].sent_at is None
    assert rows[ANNA].status is rows[CARL].status is ReminderStatus.sent
    # The next run retries Müller (and fails again), and sends nothing more to the others.
    again = run_reminders(app, TODAY)
    assert (again.sent, again.failed) == (0, 1)
    assert received(ascii_only_smtp) == [ANNA, CARL]
    assert reminder_log(session)[MULLER].attempts == 2


def test_an_exception_building_one_email_fails_only_that_one(
    app, session, smtp, customers, monkeypatch
):
    fail_building_for(monkeypatch, ANNA, RuntimeError("boom"))
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1)
    assert received(smtp) == sorted([CARL, MULLER])
    rows = reminder_log(session)
    assert rows[ANNA].status is ReminderStatus.failed
    assert rows[ANNA].error == "the email could not be built: RuntimeError: boom"
    # Fixed: the next run sends Anna's, and only hers.
    monkeypatch.undo()
    assert run_reminders(app, TODAY).sent == 1
    assert received(smtp) == sorted([ANNA, CARL, MULLER])


def test_an_exception_in_the_template_context_fails_only_that_email(
    app, session, smtp, customers, monkeypatch
):
    context = reminders.digest_context

    def broken(digest, *args):
        if digest.recipient.email == CARL:
            raise KeyError("groups")
        return context(digest, *args)

    monkeypatch.setattr(reminders, "digest_context", broken)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1)
    assert received(smtp) == sorted([ANNA, MULLER])
    assert reminder_log(session)[CARL].error == "the email could not be built: KeyError: 'groups'"


def test_an_exception_while_sending_fails_only_that_email(
    app, session, smtp, customers, monkeypatch
):
    """An error smtplib does not classify (here while naming the recipient) in the middle of
    a transaction: the connection is dropped and the next email goes over a new one."""
    rcpt = mailer.smtplib.SMTP.rcpt

    def patched(self, recipient, *args, **kwargs):
        if recipient == ANNA:
            raise ValueError("cannot write this")
        return rcpt(self, recipient, *args, **kwargs)

    monkeypatch.setattr(mailer.smtplib.SMTP, "rcpt", patched)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1), summary.problems
    assert received(smtp) == sorted([CARL, MULLER])
    assert (
        reminder_log(session)[ANNA].error
        == "the email could not be sent: ValueError: cannot write this"
    )


def test_a_connection_lost_on_one_email_fails_only_that_email(
    app, session, smtp, customers, monkeypatch
):
    """A server that hangs up on one recipient: that email fails (after one retry on a new
    connection), the ones after it still go out; the server is not written off."""
    rcpt = mailer.smtplib.SMTP.rcpt
    attempts = []

    def patched(self, recipient, *args, **kwargs):
        if recipient == ANNA:
            attempts.append(recipient)
            self.close()
            raise mailer.smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return rcpt(self, recipient, *args, **kwargs)

    monkeypatch.setattr(mailer.smtplib.SMTP, "rcpt", patched)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1), summary.problems
    assert received(smtp) == sorted([CARL, MULLER])
    assert "connection was lost" in reminder_log(session)[ANNA].error
    assert len(attempts) <= 2


def test_a_connection_lost_after_the_message_went_out_is_not_resent_in_the_run(
    app, session, smtp, customers, monkeypatch
):
    """The answer to DATA is lost: the email is failed (the next run retries it), never sent
    a second time on the spot. (The run sends DATA through ``Outbox._data_then_accept``,
    smtplib's ``data`` with a pause before the final line.)"""
    data = mailer.Outbox._data_then_accept
    calls = []

    def patched(self, message, *args, **kwargs):
        calls.append(message)
        if len(calls) == 1:
            data(self, message, *args, **kwargs)
            self._connection.close()
            raise mailer.smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return data(self, message, *args, **kwargs)

    monkeypatch.setattr(mailer.Outbox, "_data_then_accept", patched)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1), summary.problems
    assert len(calls) == 3, "no email went out twice in the run"
    assert len(smtp.messages) == 3


def test_each_outcome_is_recorded_as_it_happens(app, session, smtp, customers, monkeypatch):
    """The run dies while building the third email: the first two are recorded as sent (not
    sent again), the third is still claimed, and is sent once its claim is taken over."""
    fail_building_for(monkeypatch, CARL, SimulatedCrash())
    with pytest.raises(SimulatedCrash):
        run_reminders(app, TODAY)
    assert received(smtp) == sorted([ANNA, MULLER])
    rows = reminder_log(session)
    assert rows[ANNA].status is rows[MULLER].status is ReminderStatus.sent
    assert rows[CARL].status is ReminderStatus.sending
    # Later: the claim is abandoned long enough to be taken over; only Carl's is sent.
    monkeypatch.undo()
    abandon_claims(session, ReminderLog)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (1, 0)
    assert received(smtp) == sorted([ANNA, CARL, MULLER])
    assert {row.status for row in reminder_log(session).values()} == {ReminderStatus.sent}


class RecordingFailed(Exception):
    """The database refuses an outcome (a lost connection, a full disk)."""


def fail_recording_for(app, address: str):
    """Make the database refuse the UPDATE recording the outcome of the email to ``address``
    (on the recorder's own connection, as a real failure would); returns what undoes it."""
    engine = app.extensions["sqlalchemy"].engine

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE RR_REMINDER_LOG") and address in str(
            parameters
        ):
            raise RecordingFailed(f"could not record the email to {address}")

    event.listen(engine, "before_cursor_execute", refuse)
    return lambda: event.remove(engine, "before_cursor_execute", refuse)


def test_a_failed_recording_stops_the_run(app, session, smtp, customers, monkeypatch):
    """Recording Müller's outcome fails: the run stops with that error before the next email is
    accepted (Carl's message was on its way, but without its final line: the server discards
    it). Anna's outcome is recorded; Müller's and Carl's claims stay ``sending``, as after a
    crash, and are taken over by a later run once abandoned."""
    stop_failing = fail_recording_for(app, MULLER)
    try:
        with pytest.raises(Exception, match=f"could not record the email to {MULLER}"):
            run_reminders(app, TODAY)
    finally:
        stop_failing()
    assert received(smtp) == sorted([ANNA, MULLER])
    rows = reminder_log(session)
    assert rows[ANNA].status is ReminderStatus.sent
    assert rows[MULLER].status is rows[CARL].status is ReminderStatus.sending
    run = session.scalars(select(JobRun).order_by(JobRun.id.desc())).first()
    assert run.ok is False and "could not record" in run.summary
    # Claims are not taken over while they are fresh: nothing more is sent.
    assert run_reminders(app, TODAY).sent == 0
    assert received(smtp) == sorted([ANNA, MULLER])
    # Later: Müller's (whose outcome was lost) and Carl's are sent; Anna's never again.
    abandon_claims(session, ReminderLog)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 0)
    assert received(smtp) == sorted([ANNA, CARL, MULLER, MULLER])
    assert {row.status for row in reminder_log(session).values()} == {ReminderStatus.sent}


def test_a_crash_while_the_next_email_waits_for_the_last_outcome_sends_nobody_twice(
    app, session, smtp, customers, monkeypatch
):
    """The run dies while Carl's message waits for Müller's outcome to be committed (its final
    line not yet sent): the server never accepts Carl's, the outcomes already handed over are
    committed as the run unwinds, and the later run sends Carl's alone."""
    wait = OutcomeRecorder.wait
    sends = []

    def crash_before_carl_is_accepted(self):
        if len(sends) == 3:  # Carl's message is on the wire but for its final line
            raise SimulatedCrash()
        return wait(self)

    data = mailer.Outbox._data_then_accept

    def counting(self, message, *args, **kwargs):
        sends.append(message)
        return data(self, message, *args, **kwargs)

    monkeypatch.setattr(OutcomeRecorder, "wait", crash_before_carl_is_accepted)
    monkeypatch.setattr(mailer.Outbox, "_data_then_accept", counting)
    with pytest.raises(SimulatedCrash):
        run_reminders(app, TODAY)
    assert len(sends) == 3, "Carl's message went out, but for its final line"
    assert received(smtp) == sorted([ANNA, MULLER])
    rows = reminder_log(session)
    assert rows[ANNA].status is rows[MULLER].status is ReminderStatus.sent
    assert rows[CARL].status is ReminderStatus.sending
    monkeypatch.undo()
    abandon_claims(session, ReminderLog)
    summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (1, 0)
    assert received(smtp) == sorted([ANNA, CARL, MULLER])
    assert {row.status for row in reminder_log(session).values()} == {ReminderStatus.sent}


def test_no_email_is_accepted_before_the_last_outcome_is_committed(
    app, session, smtp, customers, monkeypatch
):
    """The ordering that keeps a crash from sending an email twice: when the server accepts an
    email, the outcome of every email before it is committed (seen here from a connection of
    the test's own, as another process would see it)."""
    engine = app.extensions["sqlalchemy"].engine
    seen = []
    data = mailer.Outbox._data_then_accept

    def checking(self, message, before_accept, *args, **kwargs):
        def then_look():
            before_accept()
            with engine.connect() as conn:
                seen.append(
                    sorted(
                        conn.scalars(
                            select(ReminderLog.recipient).where(
                                ReminderLog.status == ReminderStatus.sent
                            )
                        )
                    )
                )

        return data(self, message, then_look, *args, **kwargs)

    monkeypatch.setattr(mailer.Outbox, "_data_then_accept", checking)
    summary = run_reminders(app, TODAY)
    assert summary.sent == 3
    assert seen == [[], [ANNA], sorted([ANNA, MULLER])]


def test_an_international_bcc_is_left_out_when_the_server_lacks_smtputf8(
    app, session, ascii_only_smtp, customers, caplog, monkeypatch
):
    monkeypatch.setitem(
        app.config, "RENEWALS_REMINDER_BCC", "archief@example.com, bcc-müller@example.nl"
    )
    with caplog.at_level(logging.WARNING, logger="renewal_reminder.renewals.mailer"):
        summary = run_reminders(app, TODAY)
    assert (summary.sent, summary.failed) == (2, 1)
    assert sorted(ascii_only_smtp.envelopes) == [
        ("renewals@reseller.example.com", [ANNA, "archief@example.com"]),
        ("renewals@reseller.example.com", [CARL, "archief@example.com"]),
    ]
    assert len([r for r in caplog.records if "bcc-müller" in r.getMessage()]) == 1


# --- the sales digest -------------------------------------------------------------------------


@pytest.fixture
def sales_contacts(session, world, make_user):
    """Sales A and B (conftest's world), then Müller and Carl, each with an expiring domain."""
    for i, address in enumerate((MULLER, CARL)):
        user = make_user(address, "Sales")
        relation = Relation(
            number=4001 + i,
            name=f"Sales customer {i}",
            billing_email=f"customer{i}@example.com",
            sales_contact_id=user.id,
        )
        session.add(relation)
        session.add(
            Domain(name=f"sales-{i}.com", relation=relation, expiry_date=TODAY + dt.timedelta(7))
        )
    session.commit()
    return ["sales-a@example.com", "sales-b@example.com", MULLER, CARL]


def run_digest(app):
    with app.app_context():
        return send_sales_digests(
            current_session(),
            app.extensions["renewal_reminder"].mail,
            MailSettings.from_config(settings.read(app.config)),
            TODAY,
        )


def digest_log(session) -> dict[str, SalesDigestLog]:
    session.expire_all()
    return {row.recipient: row for row in session.scalars(select(SalesDigestLog))}


def test_sales_digest_to_an_international_address_goes_with_smtputf8(
    app, session, smtp, sales_contacts
):
    summary = run_digest(app)
    assert (summary.sent, summary.failed) == (4, 0), summary.problems
    assert received(smtp) == sorted(sales_contacts)
    assert "sales-0.com" in smtp.to(MULLER)[0].get_body(("plain",)).get_content()
    assert run_digest(app).sent == 0
    assert len(smtp.messages) == 4


def test_sales_digest_without_smtputf8_fails_only_the_international_address(
    app, session, ascii_only_smtp, sales_contacts
):
    summary = run_digest(app)
    assert (summary.sent, summary.failed) == (3, 1)
    assert summary.problems == [f"{MULLER}: {NO_SMTPUTF8}"]
    others = sorted(set(sales_contacts) - {MULLER})
    assert received(ascii_only_smtp) == others
    row = digest_log(session)[MULLER]
    assert (row.status, row.error) == (SalesDigestStatus.failed, NO_SMTPUTF8)
    # The next run retries Müller's only.
    again = run_digest(app)
    assert (again.sent, again.failed, again.already) == (0, 1, 3)
    assert received(ascii_only_smtp) == others


def test_sales_digest_exception_building_one_email_fails_only_that_one(
    app, session, smtp, sales_contacts, monkeypatch
):
    encoding = UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range(128)")
    fail_building_for(monkeypatch, "sales-b@example.com", encoding)
    summary = run_digest(app)
    assert (summary.sent, summary.failed) == (3, 1)
    assert received(smtp) == sorted(set(sales_contacts) - {"sales-b@example.com"})
    row = digest_log(session)["sales-b@example.com"]
    assert row.status is SalesDigestStatus.failed
    assert row.error.startswith("the email could not be built: UnicodeEncodeError")


def test_sales_digest_outcomes_are_recorded_as_they_happen(
    app, session, smtp, sales_contacts, monkeypatch
):
    fail_building_for(monkeypatch, MULLER, SimulatedCrash())
    with pytest.raises(SimulatedCrash):
        run_digest(app)
    rows = digest_log(session)
    assert {address: row.status for address, row in rows.items()} == {
        "sales-a@example.com": SalesDigestStatus.sent,
        "sales-b@example.com": SalesDigestStatus.sent,
        MULLER: SalesDigestStatus.sending,
        CARL: SalesDigestStatus.sending,
    }
    monkeypatch.undo()
    abandon_claims(session, SalesDigestLog)
    summary = run_digest(app)
    assert (summary.sent, summary.already) == (2, 2)
    assert received(smtp) == sorted(sales_contacts)


# --- confirmation requests and sales notifications ---------------------------------------------


@pytest.fixture
def holders(session, world):
    """Three domains of Admin's reach whose holders are Anna, Müller and Carl."""
    ensure_default_templates(session)
    domains = []
    for i, address in enumerate((ANNA, MULLER, CARL)):
        relation = Relation(number=5001 + i, name=f"Holder {i}", billing_email=address)
        domain = Domain(
            name=f"holder-{i}.com", relation=relation, expiry_date=TODAY + dt.timedelta(20)
        )
        session.add_all([relation, domain])
        domains.append(domain)
    session.commit()
    return domains


def request_for_all(client, world, holders):
    login(client, world.admin.username)
    response = client.post(
        "/domains/action_post",
        data={
            "action": "send_confirmation_request",
            "rowid": [str(domain.id) for domain in holders],
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def requests_by_address(session) -> dict[str, ConfirmationRequest]:
    session.expire_all()
    return {row.sent_to: row for row in session.scalars(select(ConfirmationRequest))}


def test_confirmation_request_to_an_international_address_goes_with_smtputf8(
    client, session, world, smtp, holders
):
    request_for_all(client, world, holders)
    assert received(smtp) == sorted([ANNA, CARL, MULLER])
    assert "holder-1.com" in smtp.to(MULLER)[0]["Subject"]
    assert {row.state for row in requests_by_address(session).values()} == {"open"}


def test_confirmation_request_without_smtputf8_fails_only_the_international_address(
    client, session, world, ascii_only_smtp, holders
):
    page = request_for_all(client, world, holders)
    assert received(ascii_only_smtp) == [ANNA, CARL]
    assert "Not sent for holder-1.com" in page and "SMTPUTF8" in page
    rows = requests_by_address(session)
    assert rows[ANNA].state == rows[CARL].state == "open"
    assert rows[MULLER].revoked_at is not None
    assert rows[MULLER].note == f"the email could not be sent: {NO_SMTPUTF8}"


def test_confirmation_request_exception_building_one_email_fails_only_that_one(
    client, session, world, smtp, holders, monkeypatch
):
    fail_building_for(monkeypatch, ANNA, RuntimeError("boom"))
    page = request_for_all(client, world, holders)
    assert received(smtp) == sorted([CARL, MULLER])
    assert "Not sent for holder-0.com" in page
    rows = requests_by_address(session)
    assert rows[ANNA].revoked_at is not None and "RuntimeError: boom" in rows[ANNA].note
    assert rows[MULLER].state == rows[CARL].state == "open"


def decide_renewal(client, world):
    """The reseller renews its domain on the selection page; Sales A is told."""
    login(client, world.reseller_login.username)
    response = client.post(
        "/renewals/",
        data={f"decision-{world.d_r1.id}": "renew", f"years-{world.d_r1.id}": "2"},
    )
    assert response.status_code == 302, response.status_code
    return response


@pytest.fixture
def international_sales_contact(session, world):
    world.sales_a.email = MULLER
    session.commit()


def test_sales_notification_to_an_international_address_goes_with_smtputf8(
    client, session, world, smtp, international_sales_contact
):
    decide_renewal(client, world)
    [message] = smtp.to(MULLER)
    assert "reseller-one.com - 2 years" in message.get_body(("plain",)).get_content()


def test_sales_notification_without_smtputf8_fails_but_the_decision_stands(
    client, session, world, ascii_only_smtp, international_sales_contact, caplog
):
    with caplog.at_level(logging.ERROR, logger="renewal_reminder.renewals.notifications"):
        decide_renewal(client, world)
    assert ascii_only_smtp.to(MULLER) == []
    assert any(NO_SMTPUTF8 in record.getMessage() for record in caplog.records)
    session.expire_all()
    assert session.get(Domain, world.d_r1.id).renewal_years == 2


def test_sales_notification_exception_while_rendering_fails_only_the_email(
    client, session, world, smtp, monkeypatch
):
    def broken(source, context):
        raise TypeError("unexpected")

    monkeypatch.setattr(email_templates, "render", broken)
    decide_renewal(client, world)
    assert smtp.messages == []
    session.expire_all()
    assert session.get(Domain, world.d_r1.id).renewal_years == 2


def test_outbox_never_raises_for_one_email(app, smtp):
    """The rule every sender relies on, directly: each email gets a result, in order, and the
    connection goes on serving the next one."""

    def explode():
        raise ZeroDivisionError("division by zero")

    smtp.refuse.add("refused@example.com")
    fine = RenderedEmail("Hello", "text", "<p>html</p>")
    results = mailer.send_all(
        app.extensions["renewal_reminder"].mail,
        [
            mailer.OutgoingEmail(ANNA, fine),
            mailer.OutgoingEmail("x@bü..example", fine),  # no IDNA form
            mailer.OutgoingEmail(MULLER, explode),
            mailer.OutgoingEmail("refused@example.com", fine),
            mailer.OutgoingEmail(CARL, fine),
        ],
        "renewals@reseller.example.com",
    )
    errors = [result.error for result in results]
    assert errors[0] is None and errors[4] is None
    assert errors[1].startswith("the email could not be built: IDNAError")
    assert errors[2] == "the email could not be built: ZeroDivisionError: division by zero"
    assert errors[3].startswith("refused: refused@example.com: 550")
    assert received(smtp) == [ANNA, CARL]
