"""Admin CRUD screens: validation with clear form errors, search filters, list columns."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from renewal_reminder.models import Domain, Relation
from tests.conftest import login


@pytest.fixture
def admin_client(client, world):
    login(client, world.admin.username)
    return client


def domain_form(world, **overrides) -> dict:
    form = {
        "name": "new-domain.com",
        "relation": str(world.c1.id),
        "expiry_date": (dt.date.today() + dt.timedelta(days=50)).isoformat(),
        "status": "active",
        "renewal_years": "",
        "notes": "",
    }
    form.update(overrides)
    return form


def test_add_domain_normalises_idn_and_case(admin_client, world, session):
    response = admin_client.post("/domains/add", data=domain_form(world, name=" Bücher-Shop.DE "))
    assert response.status_code == 302
    domain = session.query(Domain).filter_by(name="xn--bcher-shop-9db.de").one()
    assert domain.unicode_name == "bücher-shop.de"
    page = admin_client.get("/domains/list/").get_data(as_text=True)
    assert "bücher-shop.de" in page


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"name": "not a domain"}, "whitespace"),
        ({"name": "nodot"}, "top-level domain"),
        ({"name": "-bad-.com"}, "not a valid domain name"),
        ({"name": "CLIENT-ONE.com"}, "Already exists"),
        ({"renewal_years": "11"}, "1 to 10 years"),
        ({"renewal_years": "0"}, "1 to 10 years"),
        ({"renewal_years": "abc"}, "Not a valid integer"),
        ({"expiry_date": "2026-13-45"}, "Not a valid date"),
        ({"status": "bogus"}, "Not a valid choice"),
    ],
)
def test_invalid_domain_input_gets_a_form_error_and_changes_nothing(
    admin_client, world, session, overrides, error
):
    before = session.query(Domain).count()
    response = admin_client.post("/domains/add", data=domain_form(world, **overrides))
    assert response.status_code == 200
    assert error in response.get_data(as_text=True)
    session.expire_all()
    assert session.query(Domain).count() == before


def relation_form(**overrides) -> dict:
    form = {
        "number": "555",
        "name": "New Customer",
        "billing_email": "new@example.com",
        "kind": "client",
        "language": "en",
        "reminders_to_reseller": "y",
    }
    form.update(overrides)
    return form


def test_add_relation(admin_client, world, session):
    response = admin_client.post(
        "/relations/add",
        data=relation_form(parent=str(world.r1.id), sales_contact=str(world.sales_a.id)),
    )
    assert response.status_code == 302
    relation = session.query(Relation).filter_by(number=555).one()
    assert relation.parent_id == world.r1.id and relation.sales_contact_id == world.sales_a.id


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"billing_email": "not-an-email"}, "not a valid email"),
        ({"language": "xx"}, "choose one of"),
        ({"number": "100"}, "Already exists"),
        ({"number": "abc"}, "Not a valid integer"),
        # The parent must be a reseller: a client is not offered and is refused.
        ({"parent": "CLIENT"}, "Not a valid choice"),
        # Only users with the Sales role can be sales contacts.
        ({"sales_contact": "ADMIN"}, "Not a valid choice"),
        ({"kind": "reseller", "parent": "RESELLER"}, "cannot have a parent"),
        ({"kind": "bogus"}, "Not a valid choice"),
    ],
)
def test_invalid_relation_input_changes_nothing(admin_client, world, session, overrides, error):
    substitutions = {
        "CLIENT": str(world.c2.id),
        "ADMIN": str(world.admin.id),
        "RESELLER": str(world.r1.id),
    }
    overrides = {key: substitutions.get(value, value) for key, value in overrides.items()}
    before = session.query(Relation).count()
    response = admin_client.post("/relations/add", data=relation_form(**overrides))
    assert error in response.get_data(as_text=True)
    session.expire_all()
    assert session.query(Relation).count() == before


def test_domain_search_filters(admin_client, world):
    def names(query: str) -> set[str]:
        body = admin_client.get(f"/domains/list/?{query}").get_data(as_text=True)
        return {n for n in ("reseller-one.com", "client-one.com", "client-two.com") if n in body}

    assert names("_flt_0_relation_id=200") == {"client-two.com"}  # relation number
    assert names("_flt_0_relation_id=Client") == {"client-one.com", "client-two.com"}
    assert names("_flt_1_relation_id=sales-b") == {"client-two.com"}  # sales contact
    assert names("_flt_0_status=active") == {"reseller-one.com", "client-one.com", "client-two.com"}
    soon = (dt.date.today() + dt.timedelta(days=15)).isoformat()
    # Expiry date range: greater than / smaller than.
    assert names(f"_flt_1_expiry_date={soon}") == {"reseller-one.com", "client-one.com"}
    assert names(f"_flt_2_expiry_date={soon}") == {"client-two.com"}


def test_list_shows_days_left(admin_client, world):
    body = admin_client.get("/domains/list/").get_data(as_text=True)
    assert "Days left" in body
    assert ">10<" in body.replace(" ", "").replace("\n", "")


def test_domain_page_lists_its_decisions(admin_client, world, session):
    from renewal_reminder.models import Decision, DecisionChannel, RenewalDecision

    session.add(
        RenewalDecision(
            domain=world.d_c1,
            decision=Decision.renew,
            years=3,
            expiry_date=world.d_c1.expiry_date,
            channel=DecisionChannel.sales,
        )
    )
    session.commit()
    body = admin_client.get(f"/domains/show/{world.d_c1.id}").get_data(as_text=True)
    assert "Renewal decisions" in body or "Renewal decision" in body
    assert "sales" in body


def upload(client, content: bytes):
    return client.post(
        "/portfolio-import/form",
        data={"csv_file": (io.BytesIO(content), "portfolio.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_admin_uploads_a_portfolio(admin_client, world, session):
    content = (
        b"domain,expiry_date,relation_number,relation_name,relation_email\n"
        b"uploaded-one.com,2027-03-01,300,Uploaded Customer,up@example.com\n"
        b"Uploaded-Two.com,2027-04-01,300,Uploaded Customer,up@example.com\n"
    )
    body = upload(admin_client, content).get_data(as_text=True)
    assert "Imported 2 rows" in body
    assert session.query(Domain).filter(Domain.name.like("uploaded-%")).count() == 2


def test_upload_with_a_bad_row_imports_nothing_and_lists_the_lines(admin_client, world, session):
    content = (
        b"domain,expiry_date,relation_number,relation_name,relation_email\n"
        b"fine.com,2027-03-01,300,Uploaded Customer,up@example.com\n"
        b"broken.com,31-12-2027,300,Uploaded Customer,up@example.com\n"
    )
    body = upload(admin_client, content).get_data(as_text=True)
    assert "Nothing was imported" in body
    assert "line 3" in body
    assert session.query(Domain).filter_by(name="fine.com").count() == 0


def test_upload_is_admin_only(client, world):
    login(client, world.sales_a.username)
    response = client.post(
        "/portfolio-import/form",
        data={"csv_file": (io.BytesIO(b"domain\n"), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 403)


def test_domain_list_pages_cover_every_row_once_in_expiry_then_name_order(
    admin_client, world, session
):
    """Pages past the middle are read from the other end (views.large_lists): walking every
    page, forwards, still gives each domain once, by expiry date and then name."""
    expiry = dt.date.today() + dt.timedelta(days=40)
    session.add_all(
        Domain(name=f"same-day-{i}.com", relation_id=world.c1.id, expiry_date=expiry)
        for i in (3, 1, 4, 0, 2)
    )
    session.commit()
    expected = [
        name
        for name, _ in sorted(
            ((d.name, d.expiry_date) for d in session.query(Domain)), key=lambda d: (d[1], d[0])
        )
    ]
    seen = []
    for page in range(len(expected) // 2 + 2):
        html = admin_client.get(
            f"/domains/list/?psize_RenewalsDomainView=2&page_RenewalsDomainView={page}"
        ).get_data(as_text=True)
        seen.extend(name for name in expected if f">{name}<" in html or f"{name}\n" in html)
    positions = {name: index for index, name in enumerate(expected)}
    assert sorted(seen, key=positions.get) == expected
    assert seen == expected


def test_a_sales_contacts_pages_cover_their_rows_once_and_no_one_elses(client, world, session):
    """The Sales scope is resolved to relation ids first on PostgreSQL
    (``FilterByAccessResolvedFirst``): walking every page still gives each of their domains
    once, in order, the count is theirs, and another contact's domains never appear."""
    expiry = dt.date.today() + dt.timedelta(days=40)
    session.add_all(
        Domain(name=f"mine-{i}.com", relation_id=world.c1.id, expiry_date=expiry)
        for i in (3, 1, 4, 0, 2)
    )
    session.add_all(
        Domain(name=f"theirs-{i}.com", relation_id=world.c2.id, expiry_date=expiry)
        for i in range(4)
    )
    session.commit()
    mine = {world.r1.id, world.c1.id}
    expected = [
        d.name
        for d in sorted(
            session.query(Domain).filter(Domain.relation_id.in_(mine)),
            key=lambda d: (d.expiry_date, d.name),
        )
    ]
    everyone = [d.name for d in session.query(Domain)]
    login(client, world.sales_a.username)
    seen = []
    for page in range(len(expected) // 2 + 2):
        html = client.get(
            f"/domains/list/?psize_RenewalsDomainView=2&page_RenewalsDomainView={page}"
        ).get_data(as_text=True)
        assert f"Record Count:</strong> {len(expected)}" in html
        shown = [name for name in everyone if f">{name}<" in html or f"{name}\n" in html]
        seen.extend(sorted(shown, key=html.find))  # in the page's order
    assert seen == expected
