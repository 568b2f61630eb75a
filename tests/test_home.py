"""The home pages: today's work for staff, what needs deciding for customers, each scoped to
what the viewer may see, every figure a link that works."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    JobRun,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals import dashboard
from tests.conftest import login


def _decide(session, domain, decision, state=ProcessingState.queued, years=1):
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
        state=state,
    )
    renew = decision is Decision.renew
    domain.status = DomainStatus.renewal_confirmed if renew else DomainStatus.renewal_declined
    session.add(row)
    session.commit()
    return row


def test_staff_figures_count_what_needs_doing(world, session):
    today = dt.date.today()
    overdue = Domain(name="overdue.com", relation=world.c2, expiry_date=today + dt.timedelta(1))
    session.add(overdue)
    session.commit()
    _decide(session, overdue, Decision.renew)  # due 3 days before expiry: overdue
    _decide(session, world.d_c1, Decision.decline, state=ProcessingState.failed)

    home = dashboard.staff_home(session, world.admin, today, lead_days=3)
    assert home.overdue_renewals == 1
    assert home.queue == 2
    assert home.failed_executions == 1
    # reseller-one.com (30 days) and client-two.com (10 days) have no decision yet
    assert home.expiring_without_decision == 2
    totals = {s: sum(week.counts[s] for week in home.weeks) for s in dashboard.CHART_SERIES}
    assert totals == {"renew": 1, "decline": 1, "none": 2}
    assert home.weeks[0].counts["renew"] == 1  # expires tomorrow: the first week
    assert home.weeks[4].counts["none"] == 1  # reseller-one.com, 30 days: week 5

    # Sales B sees client two's domains only.
    mine = dashboard.staff_home(session, world.sales_b, today, lead_days=3)
    assert (mine.overdue_renewals, mine.queue, mine.failed_executions) == (1, 1, 0)
    assert mine.expiring_without_decision == 1
    assert sum(w.total for w in mine.weeks) == 2


def test_staff_home_page_links_to_filtered_lists(client, world, session):
    session.add(JobRun(job="reminders", run_date=dt.date.today(), ok=True, summary="3 sent"))
    session.commit()
    login(client, world.admin.username)
    page = client.get("/home/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "Domains expiring per week" in html
    assert "3 sent" in html
    links = set(re.findall(r'<a href="([^"]+)" class="panel', html))
    assert len(links) >= 4
    for href in links:
        assert client.get(href.replace("&amp;", "&")).status_code == 200, href


def test_customer_home_shows_what_needs_deciding(client, world, session):
    _decide(session, world.d_c1, Decision.renew, years=2)
    login(client, world.reseller_login.username)
    html = client.get("/home/").get_data(as_text=True)
    # reseller-one.com awaits a decision; client-one.com was decided (renew 2 years)
    assert "1 domain name(s) need your decision" in html
    assert "client-one.com" in html and "renew for 2 year(s)" in html
    assert "client-two.com" not in html  # another customer's


def test_customer_login_without_relation_gets_a_clear_page(client, make_user):
    make_user("lonely@example.com", "Client")
    login(client, "lonely@example.com")
    page = client.get("/home/")
    assert page.status_code == 403  # the same page as /renewals/ gives it
    assert "not linked to a relation yet" in page.get_data(as_text=True)


def test_front_page_sends_signed_in_users_home_and_shows_visitors_the_ways_in(client, world):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sign in" in html and "Enter your code" in html
    login(client, world.sales_a.username)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/home/")


@pytest.mark.parametrize("role", ["Sales", "Reseller", "Client"])
def test_every_product_role_has_a_home(client, world, role):
    username = {
        "Sales": world.sales_a.username,
        "Reseller": world.reseller_login.username,
        "Client": world.client1_login.username,
    }[role]
    login(client, username)
    assert client.get("/home/").status_code == 200


def test_sales_gets_no_link_it_may_not_open(client, world):
    login(client, world.sales_a.username)
    html = client.get("/home/").get_data(as_text=True)
    assert "/reminder-log/" not in html  # Admin only
    assert "failed emails (7 days)" in html


def test_failed_emails_count_only_the_viewers_domains(world, session):
    from renewal_reminder.models import ReminderLog, ReminderStatus

    today = dt.date.today()
    session.add(
        ReminderLog(
            domain=world.d_c2,
            expiry_date=world.d_c2.expiry_date,
            offset_code="15d",
            reminder_date=today,
            run_date=today,
            recipient="c2@example.com",
            status=ReminderStatus.failed,
        )
    )
    session.commit()
    assert dashboard.staff_home(session, world.admin, today, 3).failed_emails == 1
    assert dashboard.staff_home(session, world.sales_b, today, 3).failed_emails == 1
    assert dashboard.staff_home(session, world.sales_a, today, 3).failed_emails == 0
