"""Database constraints: nothing invalid reaches the database, whatever the entry point."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    Relation,
    RelationKind,
    RenewalDecision,
)
from renewal_reminder.renewals.lifecycle import status_after_expiry_change

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def relation(session):
    relation = Relation(
        number=1311,
        name="Dommelsen, V",
        billing_email="info@dommelsen.nl",
        kind=RelationKind.reseller,
    )
    session.add(relation)
    session.commit()
    return relation


def assert_rejected(session, *objects):
    session.add_all(objects)
    with pytest.raises((IntegrityError, StatementError)):
        session.commit()
    session.rollback()


def test_defaults(session, relation):
    domain = Domain(name="example.com", relation=relation, expiry_date=TODAY)
    session.add(domain)
    session.commit()
    assert domain.status is DomainStatus.active
    assert domain.renewal_years is None
    assert relation.language == "en" and relation.reminders_to_reseller is True
    assert domain.created_at is not None and domain.updated_at is not None


def test_domain_name_is_unique(session, relation):
    session.add(Domain(name="example.com", relation=relation, expiry_date=TODAY))
    session.commit()
    assert_rejected(session, Domain(name="example.com", relation=relation, expiry_date=TODAY))


def test_domain_name_must_be_lower_case(session, relation):
    assert_rejected(session, Domain(name="Example.com", relation=relation, expiry_date=TODAY))


@pytest.mark.parametrize("years", [0, 11, -1])
def test_renewal_years_between_1_and_10(session, relation, years):
    assert_rejected(
        session,
        Domain(name="example.com", relation=relation, expiry_date=TODAY, renewal_years=years),
    )


def test_unknown_status_is_rejected_by_the_database(session, relation):
    session.add(Domain(name="example.com", relation=relation, expiry_date=TODAY))
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE rr_domain SET status = 'bogus'"))
        session.flush()
    session.rollback()


def test_relation_number_unique_and_positive(session, relation):
    assert_rejected(session, Relation(number=1311, name="Other", billing_email="o@example.com"))
    assert_rejected(session, Relation(number=0, name="Zero", billing_email="z@example.com"))


def test_relation_cannot_be_its_own_parent(session, relation):
    relation.parent_id = relation.id
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_domain_needs_an_existing_relation(session):
    assert_rejected(session, Domain(name="orphan.com", relation_id=987654, expiry_date=TODAY))


@pytest.mark.parametrize(
    ("decision", "years", "ok"),
    [
        (Decision.renew, 1, True),
        (Decision.renew, 10, True),
        (Decision.renew, None, False),
        (Decision.renew, 11, False),
        (Decision.decline, None, True),
        (Decision.decline, 2, False),
    ],
)
def test_decision_years_constraint(session, relation, decision, years, ok):
    domain = Domain(name="example.com", relation=relation, expiry_date=TODAY)
    session.add(domain)
    session.commit()
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years,
        expiry_date=TODAY,
        channel=DecisionChannel.selection_page,
    )
    if ok:
        session.add(row)
        session.commit()
        assert row.state is ProcessingState.queued
        assert row.decided_at is not None
    else:
        assert_rejected(session, row)


def test_decided_by_label(session, relation):
    domain = Domain(name="example.com", relation=relation, expiry_date=TODAY)
    code = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=TODAY,
        channel=DecisionChannel.confirmation_code,
    )
    auto = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=TODAY,
        channel=DecisionChannel.automatic,
    )
    assert code.decided_by_label == "code"
    assert auto.decided_by_label == "automatic"


def test_unicode_name_of_an_idn():
    assert Domain(name="xn--bcher-kva.de").unicode_name == "bücher.de"
    assert Domain(name="plain.com").unicode_name == "plain.com"


@pytest.mark.parametrize(
    ("status", "old", "new", "expected"),
    [
        (DomainStatus.renewal_confirmed, TODAY, TODAY.replace(year=2027), DomainStatus.renewed),
        (DomainStatus.renewal_declined, TODAY, TODAY.replace(year=2027), DomainStatus.renewed),
        (DomainStatus.active, TODAY, TODAY.replace(year=2027), DomainStatus.renewed),
        (DomainStatus.deleted, TODAY, TODAY.replace(year=2027), DomainStatus.deleted),
        (DomainStatus.deactivated, TODAY, TODAY.replace(year=2027), DomainStatus.deactivated),
        (DomainStatus.renewal_confirmed, TODAY, TODAY - dt.timedelta(days=3), DomainStatus.active),
        (DomainStatus.renewed, TODAY, TODAY - dt.timedelta(days=3), DomainStatus.renewed),
        (DomainStatus.renewal_confirmed, TODAY, TODAY, DomainStatus.renewal_confirmed),
    ],
)
def test_status_after_expiry_change(status, old, new, expected):
    assert status_after_expiry_change(status, old, new) is expected
