"""The expiration list for Sales and Admin: windows, filters, totals, the cap, the CSV export,
who sees what, and garbage in the query string."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

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
from renewal_reminder.renewals import expirations
from renewal_reminder.renewals.expirations import ExpirationFilters, InvalidFilter, parse_filters
from renewal_reminder.views.csv_export import spreadsheet_safe
from renewal_reminder.views.expirations import EXPORT_HEADER
from tests.conftest import login

TODAY = dt.date.today()
#: A fixed "today" for the floor-2 tests: mid-month, three months on ends on the 15th.
DAY = dt.date(2027, 3, 15)
DENIED = (302, 403)

#: Domains of relation #300 (sales A) around DAY, by name: expiry date.
FIXED = {
    "feb-end.com": dt.date(2027, 2, 28),
    "mar-first.com": dt.date(2027, 3, 1),
    "mar-today.com": dt.date(2027, 3, 15),
    "mar-end.com": dt.date(2027, 3, 31),
    "apr.com": dt.date(2027, 4, 10),
    "jun-last.com": dt.date(2027, 6, 15),
    "jun-after.com": dt.date(2027, 6, 16),
}


@pytest.fixture
def fixed(world, session):
    """Relation #300 (a client of sales A) with the FIXED domains."""
    relation = Relation(
        number=300,
        name="Fixed Dates",
        billing_email="fixed@example.com",
        kind=RelationKind.client,
        sales_contact_id=world.sales_a.id,
    )
    session.add(relation)
    domains = {
        name: Domain(name=name, relation=relation, expiry_date=expiry)
        for name, expiry in FIXED.items()
    }
    session.add_all(domains.values())
    session.commit()
    world.fixed = relation
    world.fixed_domains = domains
    return world


def names(result) -> list[str]:
    return [row.name for row in result.rows]


def listing(session, user, today=DAY, limit=expirations.PAGE_LIMIT, **filters):
    return expirations.expiration_list(
        session, user, ExpirationFilters(**filters), today, limit=limit
    )


def decide(session, domain, decision, years=None, state=ProcessingState.queued, expiry=None):
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years,
        expiry_date=expiry or domain.expiry_date,
        channel=DecisionChannel.sales,
        state=state,
    )
    session.add(row)
    session.commit()
    return row


def page(client, query: str = "") -> str:
    response = client.get(f"/expirations/{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def export(client, query: str = "") -> list[dict]:
    response = client.get(f"/expirations/export.csv{query}")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"window": "this_month"}, ["mar-first.com", "mar-today.com", "mar-end.com"]),
        (
            {"window": "next_3_months"},
            ["mar-today.com", "mar-end.com", "apr.com", "jun-last.com"],
        ),
        ({"window": "expired"}, ["feb-end.com", "mar-first.com"]),
        (
            {
                "window": "custom",
                "date_from": dt.date(2027, 3, 31),
                "date_to": dt.date(2027, 4, 10),
            },
            ["mar-end.com", "apr.com"],
        ),
    ],
)
def test_each_window(session, fixed, filters, expected):
    result = listing(session, fixed.admin, relation_number=300, **filters)
    assert names(result) == expected  # sorted by expiry date
    assert result.total == len(expected) and not result.truncated
    row = result.rows[0]
    assert row.days_left == (row.expiry_date - DAY).days
    assert (row.relation_number, row.relation_name) == (300, "Fixed Dates")
    assert row.sales_contact == "sales-a@example.com"


def test_window_dates_clamp_month_ends():
    filters = ExpirationFilters(window="next_3_months")
    assert expirations.window_dates(filters, dt.date(2026, 11, 30)) == (
        dt.date(2026, 11, 30),
        dt.date(2027, 2, 28),
    )
    assert expirations.window_dates(ExpirationFilters("this_month"), dt.date(2028, 2, 10)) == (
        dt.date(2028, 2, 1),
        dt.date(2028, 2, 29),
    )
    assert expirations.window_dates(ExpirationFilters("expired"), DAY) == (
        None,
        dt.date(2027, 3, 14),
    )


def test_deleted_and_deactivated_only_when_asked_for_by_status(session, fixed):
    fixed.fixed_domains["apr.com"].status = DomainStatus.deleted
    fixed.fixed_domains["mar-end.com"].status = DomainStatus.deactivated
    session.commit()
    result = listing(session, fixed.admin, relation_number=300)
    assert names(result) == ["mar-today.com", "jun-last.com"]
    result = listing(session, fixed.admin, relation_number=300, status=DomainStatus.deleted)
    assert names(result) == ["apr.com"]


# --- custom dates and garbage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": "custom", "from": "2027-01-01"}, "give both a from and a to date"),
        ({"window": "custom", "to": "2027-01-01"}, "give both a from and a to date"),
        ({"from": "2027-05-01", "to": "2027-04-01"}, "must not be after"),
        ({"window": "custom", "from": "2027-01-01", "to": "2033-01-01"}, "at most five years"),
        ({"window": "custom", "from": "2027-02-30", "to": "2027-03-01"}, "is not a date"),
        ({"window": "custom", "from": "2027-2-3", "to": "2027-03-01"}, "is not a date"),
        ({"window": "custom", "from": "2027-W05-1", "to": "2027-03-01"}, "is not a date"),
        ({"window": "custom", "from": "0001-01-01", "to": "0001-12-31"}, "between 1980 and 2999"),
        ({"window": "custom", "from": "9999-01-01", "to": "9999-12-31"}, "between 1980 and 2999"),
        ({"window": "next_year"}, "Unknown window"),
        ({"relation": "abc"}, "is not a relation number"),
        ({"relation": "0"}, "is not a relation number"),
        ({"relation": "2147483648"}, "is not a relation number"),
        ({"relation": "9" * 400}, "is not a relation number"),
        ({"relation": "١٢"}, "is not a relation number"),  # Arabic-Indic digits
        ({"status": "bogus"}, "Unknown status"),
        ({"decision": "maybe"}, "Unknown decision"),
    ],
)
def test_bad_filters_are_refused_with_a_message(params, message):
    with pytest.raises(InvalidFilter, match=message):
        parse_filters(params)


def test_filters_are_parsed():
    filters = parse_filters(
        {
            "from": " 2027-01-01 ",
            "to": "2027-12-31",
            "relation": "#100",
            "status": "active",
            "decision": "none",
        }
    )
    assert filters == ExpirationFilters(
        "custom", dt.date(2027, 1, 1), dt.date(2027, 12, 31), 100, DomainStatus.active, "none"
    )
    assert parse_filters({}) == ExpirationFilters("next_3_months")
    # Dates only count for a custom window.
    assert parse_filters({"window": "expired", "from": "2027-01-01"}).date_from is None
    assert parse_filters(filters.as_params()) == filters


# --- filters ----------------------------------------------------------------------------------


def test_relation_filter_includes_a_resellers_clients(session, world):
    window = {"window": "next_3_months"}
    result = listing(session, world.admin, TODAY, relation_number=100, **window)
    assert set(names(result)) == {"reseller-one.com", "client-one.com"}
    result = listing(session, world.admin, TODAY, relation_number=101, **window)
    assert names(result) == ["client-one.com"]
    result = listing(session, world.admin, TODAY, relation_number=999, **window)
    assert result.rows == [] and result.unknown_relation


def test_status_filter(session, world):
    world.d_c1.status = DomainStatus.renewal_confirmed
    session.commit()
    result = listing(session, world.admin, TODAY, status=DomainStatus.renewal_confirmed)
    assert names(result) == ["client-one.com"]
    result = listing(session, world.admin, TODAY, status=DomainStatus.active)
    assert names(result) == ["client-two.com", "reseller-one.com"]


def test_decision_filter_uses_the_current_decision(session, world):
    # client-two: renew superseded by decline -> decline; client-one: renew (2 years, done);
    # reseller-one: a decision for an earlier expiry date only -> still awaiting.
    decide(session, world.d_c2, Decision.renew, 1, state=ProcessingState.superseded)
    decide(session, world.d_c2, Decision.decline)
    decide(session, world.d_c1, Decision.renew, 2, state=ProcessingState.done)
    decide(
        session,
        world.d_r1,
        Decision.renew,
        1,
        state=ProcessingState.done,
        expiry=world.d_r1.expiry_date - dt.timedelta(days=365),
    )
    assert names(listing(session, world.admin, TODAY, decision="decline")) == ["client-two.com"]
    assert names(listing(session, world.admin, TODAY, decision="renew")) == ["client-one.com"]
    assert names(listing(session, world.admin, TODAY, decision="none")) == ["reseller-one.com"]
    rows = {row.name: row for row in listing(session, world.admin, TODAY).rows}
    assert rows["client-one.com"][-3:] == (Decision.renew, 2, ProcessingState.done)
    assert rows["client-two.com"][-3:] == (Decision.decline, None, ProcessingState.queued)
    assert rows["reseller-one.com"][-3:] == (None, None, None)


# --- totals -----------------------------------------------------------------------------------


def test_totals_per_month_and_decision(session, fixed):
    domains = fixed.fixed_domains
    decide(session, domains["mar-end.com"], Decision.renew, 1)
    decide(session, domains["apr.com"], Decision.decline)
    decide(session, domains["jun-last.com"], Decision.decline, state=ProcessingState.superseded)
    result = listing(session, fixed.admin, relation_number=300, window="next_3_months")
    assert [tuple(total) for total in result.totals] == [
        ("2027-03", 2, 1, 1, 0),
        ("2027-04", 1, 0, 0, 1),
        ("2027-05", 0, 0, 0, 0),  # a month of the window without domains is still listed
        ("2027-06", 1, 1, 0, 0),
    ]
    assert tuple(result.overall) == ("", 4, 2, 1, 1)
    # Totals follow the decision filter too.
    result = listing(
        session, fixed.admin, relation_number=300, window="next_3_months", decision="none"
    )
    assert [(t.month, t.count) for t in result.totals if t.count] == [
        ("2027-03", 1),
        ("2027-06", 1),
    ]
    # The open-ended expired window lists only months that have domains.
    result = listing(session, fixed.admin, relation_number=300, window="expired")
    assert [(t.month, t.count) for t in result.totals] == [("2027-02", 1), ("2027-03", 1)]


def test_the_page_is_capped_but_totals_and_export_count_everything(session, fixed):
    result = listing(session, fixed.admin, relation_number=300, window="next_3_months", limit=3)
    assert names(result) == ["mar-today.com", "mar-end.com", "apr.com"]
    assert result.total == 4 and result.truncated
    pages = list(
        expirations.iter_expiration_rows(
            session,
            fixed.admin,
            ExpirationFilters("custom", dt.date(2027, 1, 1), dt.date(2027, 12, 31), 300),
            DAY,
            page_size=2,
        )
    )
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [row.name for p in pages for row in p] == list(FIXED)  # in expiry order, no gaps


def test_streamed_pages_keep_domains_sharing_an_expiry_date(session, world):
    session.add_all(
        Domain(name=f"same-day-{i:02}.com", relation=world.c2, expiry_date=TODAY) for i in range(7)
    )
    session.commit()
    pages = list(
        expirations.iter_expiration_rows(
            session, world.sales_b, ExpirationFilters(), TODAY, page_size=3
        )
    )
    got = [row.name for p in pages for row in p]
    assert got == [f"same-day-{i:02}.com" for i in range(7)] + ["client-two.com"]


# --- the page and the export ------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, world):
    for url in ("/expirations/", "/expirations/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("login_attr", ["reseller_login", "client1_login", "client2_login"])
def test_not_for_customers(client, world, login_attr):
    login(client, getattr(world, login_attr).username)
    assert client.get("/expirations/").status_code in DENIED
    assert client.get("/expirations/export.csv").status_code in DENIED
    assert "/expirations/" not in client.get("/renewals/").get_data(as_text=True)  # no menu


def test_sales_page_shows_the_list_totals_and_export_link(client, world):
    login(client, world.sales_a.username)
    assert 'href="/expirations/"' in client.get("/domains/list/").get_data(as_text=True)  # menu
    html = page(client)
    assert "Expiration list" in html
    assert "client-one.com" in html and "reseller-one.com" in html
    assert html.index("client-one.com") < html.index("reseller-one.com")
    assert 'id="rr-totals"' in html and TODAY.strftime("%Y-%m") in html
    assert "/expirations/export.csv?window=next_3_months" in html
    html = page(client, "?window=custom&from=2027-01-01&to=2027-02-01&decision=renew")
    assert (
        "/expirations/export.csv?window=custom&amp;from=2027-01-01&amp;to=2027-02-01"
        "&amp;decision=renew" in html
    )


@pytest.mark.parametrize(
    ("login_attr", "expected"),
    [
        ("sales_a", {"reseller-one.com", "client-one.com"}),
        ("sales_b", {"client-two.com"}),
        ("admin", {"reseller-one.com", "client-one.com", "client-two.com"}),
    ],
)
def test_each_sales_contact_sees_only_their_relations(client, world, login_attr, expected):
    login(client, getattr(world, login_attr).username)
    html = page(client)
    everything = {"reseller-one.com", "client-one.com", "client-two.com"}
    assert {name for name in everything if name in html} == expected
    assert {row["domain"] for row in export(client)} == expected
    for window in ("this_month", "expired"):
        assert {row["domain"] for row in export(client, f"?window={window}")} <= expected


def test_another_sales_contacts_relation_is_not_reachable_by_filter(client, world):
    login(client, world.sales_b.username)
    html = page(client, "?relation=100")
    assert "reseller-one.com" not in html and "client-one.com" not in html
    assert "no relation #100 among the relations you can see" in html
    assert export(client, "?relation=100") == []
    assert export(client, "?relation=101&window=custom&from=2000-01-01&to=2004-12-31") == []
    # ... and the same answer as for a relation that does not exist.
    assert "no relation #999 among the relations you can see" in page(client, "?relation=999")


def test_csv_has_the_domain_columns_then_the_decision(client, world, session):
    decide(session, world.d_c1, Decision.renew, 3)
    login(client, world.sales_a.username)
    response = client.get("/expirations/export.csv?decision=renew")
    assert "attachment; filename=expirations-" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == (
        "domain,domain_ascii,relation_number,relation_name,expiry_date,days_left,status,"
        "renewal_years,sales_contact,decision,decision_years,decision_state"
    )
    [row] = csv.DictReader(io.StringIO("\n".join(lines)))
    assert row["domain"] == "client-one.com" and row["relation_number"] == "101"
    assert row["days_left"] == "20" and row["sales_contact"] == "sales-a@example.com"
    assert (row["decision"], row["decision_years"], row["decision_state"]) == (
        "renew",
        "3",
        "queued",
    )


def test_csv_neutralises_formulas(client, world, session):
    world.c1.name = '=HYPERLINK("http://evil")'
    world.r1.name = "@SUM(A1)"
    session.commit()
    login(client, world.sales_a.username)
    rows = export(client)
    assert {row["relation_name"] for row in rows} == {'\'=HYPERLINK("http://evil")', "'@SUM(A1)"}
    assert "=HYPERLINK" in page(client)  # the page shows the name as it is (escaped HTML)


def test_csv_rows_are_the_listed_rows_cell_for_cell(client, world, session):
    """The export reads its rows its own cheaper way (enums and dates as stored, cells looked
    up once per distinct value); they are the rows the list builds, written as before."""
    world.c1.name = "+Plus Client"
    session.add_all(
        [
            Domain(
                name="xn--bcher-kva.example",  # bücher.example
                relation=world.c1,
                expiry_date=TODAY + dt.timedelta(20),
                renewal_years=2,
            ),
            Domain(
                name="confirmed.com",
                relation=world.c2,
                expiry_date=TODAY + dt.timedelta(10),
                status=DomainStatus.renewal_confirmed,
            ),
        ]
    )
    session.commit()
    decide(session, world.d_c1, Decision.renew, 3)
    decide(session, world.d_c2, Decision.decline, state=ProcessingState.done)
    login(client, world.admin.username)
    response = client.get("/expirations/export.csv")
    filters = ExpirationFilters()
    rows = [
        row
        for found in expirations.iter_expiration_rows(session, world.admin, filters, TODAY)
        for row in found
    ]
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(
        [
            row.name,
            row.ascii_name,
            row.relation_number,
            spreadsheet_safe(row.relation_name),
            row.expiry_date.isoformat(),
            row.days_left,
            row.status.value,
            row.renewal_years or "",
            spreadsheet_safe(row.sales_contact),
            row.decision.value if row.decision else "",
            row.decision_years or "",
            row.decision_state.value if row.decision_state else "",
        ]
        for row in rows
    )
    assert len(rows) == 5
    assert response.get_data(as_text=True) == expected.getvalue()
    assert "bücher.example,xn--bcher-kva.example,101,'+Plus Client," in expected.getvalue()


@pytest.mark.app_config(RENEWALS_EXPIRATION_LIST_LIMIT=2)
def test_page_says_when_it_shows_only_the_first_rows(client, world, session):
    session.add_all(
        Domain(name=f"many-{i}.com", relation=world.r1, expiry_date=TODAY + dt.timedelta(40 + i))
        for i in range(3)
    )
    session.commit()
    login(client, world.sales_a.username)
    html = page(client)
    assert "Showing the first 2 of 5 domains; narrow the filter or" in html
    assert "client-one.com" in html and "reseller-one.com" in html
    assert "many-0.com" not in html
    assert len(export(client)) == 5  # the export streams every row


def test_expired_domains_are_marked(client, world, session):
    session.add(Domain(name="lapsed.com", relation=world.c2, expiry_date=TODAY - dt.timedelta(3)))
    session.commit()
    login(client, world.sales_b.username)
    html = page(client, "?window=expired")
    assert "lapsed.com" in html and "3 days ago" in html and "client-two.com" not in html


@pytest.mark.parametrize(
    "query",
    [
        "?window=custom&from=2027-02-30&to=2027-03-01",
        "?window=custom&from=2027-01-01",
        "?from=2027-05-01&to=2027-04-01",
        "?window=custom&from=0001-01-01&to=9999-12-31",
        "?window=custom&from=2020-01-01&to=2099-01-01",
        "?relation=999999999999999999999999999999",
        "?relation=-1",
        "?status=%00",
        "?decision=%3Cscript%3E",
        "?window=" + "x" * 5000,
    ],
)
def test_garbage_params_get_a_clear_400(client, world, query):
    login(client, world.sales_a.username)
    response = client.get(f"/expirations/{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The list cannot be shown:" in html
    assert "<script>" not in html and "x" * 100 not in html
    assert "client-one.com" not in html
    assert client.get(f"/expirations/export.csv{query}").status_code == 400


def test_repeated_and_empty_params_do_not_crash(client, world):
    login(client, world.sales_a.username)
    assert client.get("/expirations/?window=&status=&decision=&relation=").status_code == 200
    assert client.get("/expirations/?window=expired&window=custom").status_code == 200
