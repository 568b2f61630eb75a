"""The selection page in pages, and "apply to all matching": one decision for every matching
row on every page, found by the server (never ids from the form), within the relation's tree,
all or nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import decisions
from renewal_reminder.views import selection
from tests.conftest import login

TODAY = dt.date.today()


@pytest.fixture
def small_pages(monkeypatch):
    """Two rows a page, so a handful of domains makes several pages."""
    monkeypatch.setattr(selection, "PAGE_SIZE", 2)


@pytest.fixture
def portfolio(world, session):
    """Reseller One's tree: its own reseller-one.com (30 days), client-one.com (20 days) and
    three more of its own, 1 to 3 days ahead: five rows, soonest first."""
    extra = [
        Domain(name=f"extra-{n}.com", relation=world.r1, expiry_date=TODAY + dt.timedelta(n))
        for n in (1, 2, 3)
    ]
    session.add_all(extra)
    session.commit()
    return ["extra-1.com", "extra-2.com", "extra-3.com", "client-one.com", "reseller-one.com"]


def page(client, query: str = "") -> str:
    response = client.get(f"/renewals/{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def names_on(html: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)', html)


def all_decisions(session) -> list[RenewalDecision]:
    session.expire_all()
    return session.scalars(select(RenewalDecision).order_by(RenewalDecision.id)).all()


def apply_to_all(client, count, decision="renew", years="3", query=""):
    return client.post(
        f"/renewals/{query}",
        data={"all_matching": str(count), "all_decision": decision, "all_years": years},
    )


def test_pages_split_the_rows_in_order(client, world, portfolio, small_pages):
    login(client, world.reseller_login.username)
    first = page(client)
    assert names_on(first) == portfolio[:2]
    assert "Domains 1 to 2 of 5" in first
    assert 'aria-current="page"' in first and "page=3" in first  # the pager
    assert names_on(page(client, "?page=2")) == portfolio[2:4]
    assert names_on(page(client, "?page=3")) == portfolio[4:]
    assert names_on(page(client, "?page=99")) == portfolio[4:]  # past the end: the last page
    assert names_on(page(client, "?page=abc")) == portfolio[:2]
    # The form of page 2 posts back to page 2 (its errors are shown where the rows are).
    assert re.search(r'id="rr-selection" action="[^"]*page=2', page(client, "?page=2"))


def test_one_page_has_no_pager_and_no_apply_to_all(client, world, portfolio):
    login(client, world.reseller_login.username)
    html = page(client)
    assert names_on(html) == portfolio
    assert "rr-all-matching" not in html and "aria-current" not in html
    assert "5 domains" in html


def test_pager_and_filters_go_together(client, world, portfolio, small_pages):
    login(client, world.reseller_login.username)
    html = page(client, "?q=extra")
    assert names_on(html) == portfolio[:2]
    assert "q=extra" in html.split('aria-label="Pages"')[1]  # the page links keep the filter
    assert names_on(page(client, "?q=extra&page=2")) == ["extra-3.com"]


def test_a_row_error_on_page_two_is_shown_on_page_two(client, world, portfolio, small_pages):
    login(client, world.reseller_login.username)
    response = client.post(
        f"/renewals/?page=2&relation={world.r1.number}",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "99"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert names_on(html) == portfolio[2:4] and 'value="99"' in html


def test_apply_to_all_matching_decides_every_page(client, world, session, portfolio, small_pages):
    login(client, world.reseller_login.username)
    assert 'name="all_matching" value="5"' in page(client)
    response = apply_to_all(client, 5, "renew", "3")
    assert response.status_code == 302 and "/renewals/summary" in response.headers["Location"]
    decided = {d.domain.name: (d.decision, d.years, d.channel) for d in all_decisions(session)}
    assert decided == {
        name: (Decision.renew, 3, DecisionChannel.selection_page) for name in portfolio
    }
    assert session.get(Domain, world.d_c2.id).status is DomainStatus.active  # another relation's
    summary = client.get(response.headers["Location"]).get_data(as_text=True)
    assert all(f"{name} &mdash; 3 year(s)" in summary for name in portfolio)
    # Again: nothing new (every decision is already this one).
    assert apply_to_all(client, 5, "renew", "3").status_code == 302
    assert len(all_decisions(session)) == 5
    assert "Nothing changed" in client.get("/renewals/summary").get_data(as_text=True)


def test_apply_to_all_keeps_to_the_filter(client, world, session, portfolio, small_pages):
    login(client, world.reseller_login.username)
    assert apply_to_all(client, 3, "decline", query="?q=extra").status_code == 302
    decided = {d.domain.name: d.decision for d in all_decisions(session)}
    assert decided == dict.fromkeys(portfolio[:3], Decision.decline)
    assert apply_to_all(client, 1, "decline", query="?client=101").status_code == 302
    assert {d.domain.name for d in all_decisions(session)} == set(portfolio[:4])


def test_apply_to_all_never_leaves_the_relations_tree(app, client, world, session, small_pages):
    """A client's "all" is its own domains; a reseller on a client's page, that client's; a
    Sales contact's, the relation they opened. Another relation's domains are never touched."""
    session.add(Domain(name="client-one-b.com", relation=world.c1, expiry_date=TODAY))
    session.add(Domain(name="client-two-b.com", relation=world.c2, expiry_date=TODAY))
    session.commit()
    login(client, world.client1_login.username)
    assert apply_to_all(client, 2, "decline").status_code == 302
    assert {d.domain.name for d in all_decisions(session)} == {"client-one.com", "client-one-b.com"}

    reseller = app.test_client()
    login(reseller, world.reseller_login.username)
    response = apply_to_all(reseller, 2, "renew", "1", query=f"?relation={world.c1.number}")
    assert response.status_code == 302
    assert {d.domain.name for d in all_decisions(session) if d.state is ProcessingState.queued} == {
        "client-one.com",
        "client-one-b.com",
    }
    # A relation outside the login's scope is a 404, as for the page.
    assert apply_to_all(reseller, 2, query=f"?relation={world.c2.number}").status_code == 404

    sales = app.test_client()
    login(sales, world.sales_a.username)
    assert apply_to_all(sales, 2, query=f"?relation={world.c2.number}").status_code == 404
    session.expire_all()
    assert all(d.domain.relation_id != world.c2.id for d in all_decisions(session))


def test_apply_to_all_refuses_when_the_list_changed(client, world, session, portfolio, small_pages):
    login(client, world.reseller_login.username)
    session.add(Domain(name="new-arrival.com", relation=world.r1, expiry_date=TODAY))
    session.commit()
    response = apply_to_all(client, 5)  # the person saw five; six match now
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was saved" in html and "6 domains match now" in html
    assert 'name="all_matching" value="6"' in html
    assert all_decisions(session) == []


def test_apply_to_all_is_all_or_nothing(client, world, session, smtp, portfolio, small_pages):
    """One domain being executed at the registrar right now: nothing at all is saved."""
    session.add(
        RenewalDecision(
            domain=world.d_r1,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_r1.expiry_date,
            channel=DecisionChannel.sales,
            claimed_at=utcnow(),
        )
    )
    world.d_r1.status = DomainStatus.renewal_confirmed
    session.commit()
    login(client, world.reseller_login.username)
    response = apply_to_all(client, 5, "decline")
    assert response.status_code == 422
    assert "being processed by your sales contact right now" in response.get_data(as_text=True)
    assert len(all_decisions(session)) == 1 and smtp.messages == []
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.active


@pytest.mark.parametrize("decision, years", [("maybe", "1"), ("renew", "11"), ("renew", "x")])
def test_apply_to_all_with_a_bad_value_changes_nothing(
    client, world, session, portfolio, small_pages, decision, years
):
    login(client, world.reseller_login.username)
    response = apply_to_all(client, 5, decision, years)
    assert response.status_code == 422
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert all_decisions(session) == []


def test_a_big_submission_keeps_the_session_cookie_small(client, world, session):
    """The summary finds a submission's decisions without listing their ids in the cookie."""
    session.add_all(
        Domain(name=f"bulk-{n:03d}.com", relation=world.c1, expiry_date=TODAY) for n in range(400)
    )
    session.commit()
    login(client, world.client1_login.username)
    response = apply_to_all(client, 401, "renew", "2")
    assert response.status_code == 302
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert len(cookie) < 2000
    summary = client.get("/renewals/summary").get_data(as_text=True)
    assert summary.count("&mdash; 2 year(s)") == 401


def test_names_in_rows_are_escaped(client, world, session):
    world.c1.name = '<b>Evil & "Co"</b>'
    session.commit()
    login(client, world.reseller_login.username)
    html = page(client)
    assert "&lt;b&gt;Evil &amp; &#34;Co&#34;&lt;/b&gt;" in html and "<b>Evil" not in html


def _row(domain_id, *, locked=False, max_years=9) -> decisions.SelectionRow:
    return decisions.SelectionRow(
        domain_id, f"d{domain_id}.com", TODAY, 0, 1, "R", None, None, locked, max_years
    )


def test_all_matching_choices_follow_the_per_line_rules():
    rows = [_row(1), _row(2, locked=True), _row(3, max_years=2), _row(4, max_years=0)]
    assert decisions.all_matching_choices(rows, Decision.renew, 5) == [
        decisions.Choice(1, Decision.renew, 5),
        decisions.Choice(3, Decision.renew, 2),  # never longer than the line allows
    ]
    assert decisions.all_matching_choices(rows, Decision.decline, None) == [
        decisions.Choice(1, Decision.decline),
        decisions.Choice(3, Decision.decline),
        decisions.Choice(4, Decision.decline),
    ]


def test_selection_page_counts_and_clamps(world, session, portfolio):
    full = decisions.selection_rows(session, world.r1, TODAY, 92)
    second = decisions.selection_page(session, world.r1, TODAY, 92, page=2, page_size=2)
    assert (second.total, second.pages, second.first, second.last) == (5, 3, 3, 4)
    assert second.rows == full[2:4]
    last = decisions.selection_page(session, world.r1, TODAY, 92, page=10, page_size=2)
    assert last.page == 3 and last.rows == full[4:]
    assert session.scalar(select(func.count()).select_from(RenewalDecision)) == 0
