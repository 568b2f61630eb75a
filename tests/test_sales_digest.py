"""The daily sales digest, end to end: its three sections, scope, real SMTP delivery, the log,
retries, concurrent runs and reporting each automated action once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from renewal_reminder import settings
from renewal_reminder.jobs import run_processing
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    EmailTemplate,
    ProcessingState,
    Relation,
    RenewalDecision,
    SalesDigestLog,
    SalesDigestStatus,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import access, sales_digest
from renewal_reminder.renewals.email_templates import SALES_DIGEST, ensure_default_templates
from renewal_reminder.renewals.mailer import MailSettings
from renewal_reminder.renewals.registrars import simulated
from renewal_reminder.renewals.sales_digest import send_sales_digests
from renewal_reminder.session import current_session
from tests.conftest import run_in_parallel

TODAY = dt.date.today()  # the world fixture's domains expire 10-30 days from today
A, B = "sales-a@example.com", "sales-b@example.com"


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def run(app, today=TODAY, **kwargs):
    """One digest run in its own app context, as the scheduler and the CLI do."""
    with app.app_context():
        return send_sales_digests(
            current_session(),
            app.extensions["renewal_reminder"].mail,
            MailSettings.from_config(settings.read(app.config)),
            today,
            **kwargs,
        )


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def log_rows(session):
    session.expire_all()
    return session.scalars(select(SalesDigestLog).order_by(SalesDigestLog.id)).all()


def add_domain(session, name, relation, expiry, status=DomainStatus.active):
    domain = Domain(name=name, relation=relation, expiry_date=expiry, status=status)
    session.add(domain)
    session.commit()
    return domain


def add_decision(session, domain, decision=Decision.renew, years=2, **fields):
    fields.setdefault("channel", DecisionChannel.selection_page)
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        **fields,
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def registry():
    simulated.SHARED.reset()
    yield simulated.SHARED
    simulated.SHARED.reset()


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


# --- the three sections -----------------------------------------------------------------------


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_DELETION_GRACE_DAYS=5)
def test_digest_with_all_three_sections(app, session, world, smtp, registry, templates):
    # Expiring without a decision: expired within the grace period (first), a renewed domain's
    # new cycle, and the reseller's own domain on day 30. Not: day 31, a deactivated domain.
    add_domain(session, "grace.com", world.c1, days(-1))
    add_domain(session, "next-cycle.com", world.r1, days(5), DomainStatus.renewed)
    add_domain(session, "later.com", world.r1, days(31))
    add_domain(session, "gone.com", world.r1, days(3), DomainStatus.deactivated)
    # The queue: a customer's renewal (so client-one.com is no longer "without a decision"),
    # and a decline the registrar refused.
    world.d_c1.status = DomainStatus.renewal_confirmed
    session.commit()
    add_decision(session, world.d_c1, decided_at=utcnow() - dt.timedelta(hours=3))
    failing = add_domain(session, "failing.com", world.r1, days(15), DomainStatus.renewal_declined)
    add_decision(
        session,
        failing,
        Decision.decline,
        decided_at=utcnow() - dt.timedelta(hours=5),
        state=ProcessingState.failed,
        message="simulated: 2400 Command failed",
        processed_by_id=world.sales_a.id,
        processed_at=utcnow() - dt.timedelta(hours=4),
    )
    # Not automated: done by the sales contact; and a job's action of two days ago.
    by_hand = add_domain(session, "by-hand.com", world.r1, days(400), DomainStatus.renewed)
    add_decision(
        session,
        by_hand,
        state=ProcessingState.done,
        message="renewed for 2 year(s)",
        processed_by_id=world.sales_a.id,
        processed_at=utcnow() - dt.timedelta(hours=1),
        channel=DecisionChannel.sales,
    )
    old = add_domain(session, "old-action.com", world.r1, days(-40), DomainStatus.deactivated)
    add_decision(
        session,
        old,
        Decision.decline,
        state=ProcessingState.done,
        channel=DecisionChannel.automatic,
        decided_at=utcnow() - dt.timedelta(hours=48),
        processed_at=utcnow() - dt.timedelta(hours=48),
        message="deactivated at the registrar",
    )
    # The automated job deactivates a domain expired beyond the grace period and queues it
    # for deletion by the sales contact.
    add_domain(session, "lapsed.com", world.c1, days(-10))
    registry.register("lapsed.com", days(-10))
    assert run_processing(app, TODAY).deactivated == 1

    summary = run(app)

    assert summary.ok, summary.problems
    assert (summary.recipients, summary.sent, summary.failed, summary.empty) == (2, 2, 0, 0)
    assert str(summary).startswith(f"sales digests {TODAY}: 2 sales contacts; sent 2")
    [message] = smtp.to(A)
    assert message["Subject"] == (
        f"Renewal digest {TODAY}: 3 expiring without a decision, 3 in your queue, "
        "2 automated action(s)"
    )
    assert message["From"] == "renewals@reseller.example.com"
    text = text_of(message)
    expiring, rest = text.split("Waiting in your renewal queue (3):")
    queue, automated = rest.split("What the automated job did since")
    assert "Expiring within 30 days without a decision (3):" in expiring
    listed = [line.split()[1] for line in expiring.splitlines() if line.startswith("  20")]
    assert listed == ["grace.com", "next-cycle.com", "reseller-one.com"]  # soonest first
    assert "grace.com (expired yesterday) - #101 Client One" in expiring
    assert "next-cycle.com (in 5 days) - #100 Reseller One" in expiring
    assert "Expiration list: http://renewals.test/expirations/" in expiring
    for absent in ("later.com", "gone.com", "client-one.com", "client-two.com", "lapsed.com"):
        assert absent not in expiring
    queued = [line.split()[3] for line in queue.splitlines() if line.startswith("  20")]
    assert queued == ["failing.com", "client-one.com", "lapsed.com"]  # oldest first
    assert "client-one.com - renew 2 years - #101 Client One" in queue
    assert "FAILED: simulated: 2400 Command failed" in queue
    assert "Renewal queue: http://renewals.test/queue/" in queue
    assert "lapsed.com - deactivated: deactivated at the registrar - #101 Client One" in automated
    assert "lapsed.com - queued for removal" in automated
    for absent in ("by-hand.com", "old-action.com", "failing.com"):
        assert absent not in automated
    html = html_of(message)
    assert 'href="http://renewals.test/queue/"' in html
    assert 'href="http://renewals.test/expirations/"' in html
    assert "<strong>failing.com</strong>" in html

    # Sales B: only their own client's domain.
    [other] = smtp.to(B)
    assert "client-two.com" in text_of(other)
    for foreign in ("reseller-one.com", "grace.com", "failing.com", "lapsed.com"):
        assert foreign not in text_of(other)

    rows = {row.user_id: row for row in log_rows(session)}
    row = rows[world.sales_a.id]
    assert row.status is SalesDigestStatus.sent and row.digest_date == TODAY
    assert (row.expiring_count, row.queue_count, row.automated_count) == (3, 3, 2)
    assert row.recipient == A and row.attempts == 1 and row.sent_at is not None
    assert row.claim_token is None and row.covered_until is not None


def test_each_sales_contact_sees_exactly_their_scope(app, session, world, smtp, make_user):
    """A client with its own sales contact under a reseller assigned to another is in both
    scopes, as in ``access.visible_relation_ids``; a relation without one is in nobody's."""
    shared = Relation(
        number=102,
        name="Shared Client",
        billing_email="shared@example.com",
        parent=world.r1,
        sales_contact_id=world.sales_b.id,
    )
    orphan = Relation(number=300, name="Nobody's", billing_email="orphan@example.com")
    session.add_all([shared, orphan])
    session.commit()
    add_domain(session, "shared-client.com", shared, days(12))
    add_domain(session, "orphan.com", orphan, days(12))
    make_user("admin-only@example.com", "Admin")  # no relations: not a recipient

    summary = run(app)
    assert (summary.recipients, summary.sent) == (2, 2)
    assert sorted(m["To"] for m in smtp.messages) == [A, B]

    for user, address in ((world.sales_a, A), (world.sales_b, B)):
        expected = set(
            session.scalars(
                select(Domain.name).where(
                    Domain.relation_id.in_(access.visible_relation_ids(user)),
                    Domain.expiry_date <= days(30),
                )
            )
        )
        [message] = smtp.to(address)
        text = text_of(message)
        listed = {line.split()[1] for line in text.splitlines() if line.startswith("  20")}
        assert listed == expected
    assert "shared-client.com" in text_of(smtp.to(A)[0])
    assert "shared-client.com" in text_of(smtp.to(B)[0])
    assert "orphan.com" not in "".join(text_of(m) for m in smtp.messages)


def test_nothing_to_report_sends_nothing_and_logs_nothing(app, session, world, smtp):
    for domain in (world.d_r1, world.d_c1, world.d_c2):
        domain.expiry_date = days(60)
    session.commit()
    summary = run(app)
    assert summary.ok
    assert (summary.recipients, summary.sent, summary.empty) == (2, 0, 2)
    assert smtp.messages == []
    assert log_rows(session) == []

    # Something turns up later the same day: that run still sends it.
    world.d_c2.expiry_date = days(2)
    session.commit()
    later = run(app)
    assert (later.sent, later.empty) == (1, 1)
    assert [m["To"] for m in smtp.messages] == [B]


def test_a_sales_login_that_is_inactive_or_has_no_relations_gets_nothing(
    app, session, world, smtp, make_user
):
    make_user("sales-c@example.com", "Sales")  # Sales role, no relation assigned
    world.sales_b.active = False
    session.commit()
    summary = run(app)
    assert summary.recipients == 1
    assert [m["To"] for m in smtp.messages] == [A]


# --- once a day -------------------------------------------------------------------------------


def test_running_twice_the_same_day_sends_one_email_each(app, session, world, smtp):
    first = run(app)
    second = run(app)
    assert (first.sent, second.sent, second.already) == (2, 0, 2)
    assert sorted(m["To"] for m in smtp.messages) == [A, B]
    assert len(log_rows(session)) == 2
    # The next day is a new digest.
    third = run(app, days(1))
    assert third.sent == 2
    assert len(smtp.messages) == 4


def test_dry_run_sends_and_records_nothing(app, session, world, smtp):
    lines = []
    summary = run(app, dry_run=True, echo=lines.append)
    assert summary.sent == 2 and str(summary).startswith(f"sales digests {TODAY}")
    assert "would send 2" in str(summary)
    assert sorted(lines) == [
        f"would send to {A}: 2 expiring, 0 in the queue, 0 automated",
        f"would send to {B}: 1 expiring, 0 in the queue, 0 automated",
    ]
    assert smtp.messages == [] and log_rows(session) == []


def test_a_refused_recipient_does_not_stop_the_other_and_is_retried(app, session, world, smtp):
    smtp.refuse.add(A)
    first = run(app)
    assert not first.ok
    assert (first.sent, first.failed) == (1, 1)
    assert "550" in first.problems[0] and A in first.problems[0]
    assert [m["To"] for m in smtp.messages] == [B]
    rows = {row.user_id: row for row in log_rows(session)}
    failed = rows[world.sales_a.id]
    assert failed.status is SalesDigestStatus.failed and "550" in failed.error
    assert failed.sent_at is None and failed.attempts == 1

    smtp.refuse.discard(A)
    second = run(app)
    assert second.ok and (second.sent, second.already) == (1, 1)
    assert sorted(m["To"] for m in smtp.messages) == [A, B]
    retried = {row.user_id: row for row in log_rows(session)}[world.sales_a.id]
    assert retried.id == failed.id
    assert retried.status is SalesDigestStatus.sent and retried.error is None
    assert retried.attempts == 2
    assert run(app).sent == 0


def test_a_broken_template_fails_the_digest_until_fixed(app, session, world, smtp, templates):
    row = session.scalar(select(EmailTemplate).where(EmailTemplate.name == SALES_DIGEST))
    original = row.text_body
    row.text_body = "{{ 1 / 0 }}"
    session.commit()
    summary = run(app)
    assert summary.failed == 2 and smtp.messages == []
    assert all("template error" in r.error for r in log_rows(session))
    row.text_body = original
    session.commit()
    assert run(app).sent == 2


def test_an_abandoned_claim_is_taken_over_and_a_live_one_is_left_alone(app, session, world, smtp):
    now = utcnow()
    for user, claimed in ((world.sales_a, now - dt.timedelta(minutes=31)), (world.sales_b, now)):
        session.add(
            SalesDigestLog(
                user_id=user.id,
                digest_date=TODAY,
                recipient=user.email,
                status=SalesDigestStatus.sending,
                claim_token="x" * 32,
                claimed_at=claimed,
            )
        )
    session.commit()
    summary = run(app)
    assert (summary.sent, summary.already) == (1, 1)
    assert [m["To"] for m in smtp.messages] == [A]


def test_concurrent_runs_send_one_email_per_sales_contact(
    app_config, app, session, smtp, make_user, monkeypatch
):
    # Small chunks, so the runs claim and send side by side instead of one taking everything.
    monkeypatch.setattr("renewal_reminder.renewals.sales_digest.CHUNK_SIZE", 2)
    addresses = []
    for i in range(12):
        user = make_user(f"sales{i}@example.com", "Sales")
        addresses.append(user.email)
        relation = Relation(
            number=7000 + i,
            name=f"Customer {i}",
            billing_email=f"customer{i}@example.com",
            sales_contact_id=user.id,
        )
        session.add(relation)
        session.flush()
        session.add(Domain(name=f"concurrent-{i}.com", relation=relation, expiry_date=days(7)))
    session.commit()
    results = run_in_parallel(app_config, 3, lambda application: run(application, TODAY))
    assert sum(r.sent for r in results) == 12, [str(r) for r in results]
    assert sum(r.failed for r in results) == 0
    assert sorted(m["To"] for m in smtp.messages) == sorted(addresses)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SalesDigestLog)) == 12


# --- automated actions, once ------------------------------------------------------------------


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
def test_automated_actions_are_reported_once(app, session, world, smtp, registry):
    add_domain(session, "lapsed.com", world.c1, days(-3))
    registry.register("lapsed.com", days(-3))
    add_domain(session, "lapses-tomorrow.com", world.c1, TODAY)
    registry.register("lapses-tomorrow.com", TODAY)
    assert run_processing(app, TODAY).deactivated == 1

    run(app)
    [first] = smtp.to(A)
    automated = text_of(first).split("What the automated job did since")[1]
    assert "lapsed.com - deactivated" in automated
    assert "lapses-tomorrow.com" not in automated
    assert "2 automated action(s)" in first["Subject"]

    # The next day the job deactivates the other one: the digest reports that one only (the
    # first is still in the queue, for deletion, but not again as something the job did).
    assert run_processing(app, days(1)).deactivated == 1
    run(app, days(1))
    [_, second] = smtp.to(A)
    text = text_of(second)
    queue, automated = text.split("What the automated job did since")
    assert "lapsed.com - decline" in queue  # waiting for deletion
    assert "lapses-tomorrow.com - deactivated" in automated
    assert "lapsed.com" not in automated.replace("lapses-tomorrow.com", "")

    # A third day with nothing new done by the job: no automated section at all.
    run(app, days(2))
    third = smtp.to(A)[2]
    assert "What the automated job did" not in text_of(third)
    assert "0 automated action(s)" in third["Subject"]


def test_a_failed_digest_does_not_lose_automated_actions(app, session, world, smtp):
    """The window starts where the last *sent* digest ended: the actions of a digest that
    failed come with its retry, and not again after that."""
    assert run(app).sent == 2
    domain = add_domain(session, "done-by-job.com", world.r1, days(400), DomainStatus.renewed)
    add_decision(
        session,
        domain,
        state=ProcessingState.done,
        message="renewed for 2 year(s)",
        processed_at=utcnow(),
    )
    smtp.clear()
    smtp.refuse.add(A)
    assert run(app, days(1)).failed == 1
    smtp.refuse.discard(A)
    assert run(app, days(1)).sent == 1
    [message] = smtp.to(A)
    assert "done-by-job.com - renewed: renewed for 2 year(s)" in text_of(message)
    run(app, days(2))
    [_, later] = smtp.to(A)
    assert "done-by-job.com" not in text_of(later)


def test_lists_are_capped_but_counts_are_exact(app, session, world, smtp, monkeypatch):
    monkeypatch.setattr(sales_digest, "MAX_LISTED", 2)
    for i in range(4):
        add_domain(session, f"many-{i}.com", world.r1, days(3 + i))
    run(app)
    [message] = smtp.to(A)
    text = text_of(message)
    assert "Expiring within 30 days without a decision (6):" in text
    assert "  ... and 4 more" in text
    assert "6 expiring without a decision" in message["Subject"]


def test_cli_and_scheduler_run_the_digest(app, session, smtp):
    from renewal_reminder.scheduler import SALES_DIGEST_JOB_ID, create_scheduler

    result = app.test_cli_runner().invoke(args=["renewals", "digest", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "sales digests" in result.output
    assert create_scheduler(app).get_job(SALES_DIGEST_JOB_ID) is not None
