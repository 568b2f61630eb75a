"""Row-level security: every screen, action and export shows a user only their relations."""

from __future__ import annotations

import datetime as dt

import pytest

from renewal_reminder.models import Decision, DecisionChannel, Domain, RenewalDecision
from tests.conftest import login

#: FAB answers a signed-in user without the permission with 403 (a redirect in older versions).
DENIED = (302, 403)
ALL_DOMAINS = {"reseller-one.com", "client-one.com", "client-two.com"}


def visible_domains(client) -> set[str]:
    response = client.get("/domains/list/?psize_RenewalsDomainView=100")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    return {name for name in ALL_DOMAINS if name in body}


@pytest.mark.parametrize(
    ("login_attr", "expected"),
    [
        ("admin", ALL_DOMAINS),
        ("sales_a", {"reseller-one.com", "client-one.com"}),
        ("sales_b", {"client-two.com"}),
        ("reseller_login", {"reseller-one.com", "client-one.com"}),
        ("client1_login", {"client-one.com"}),
        ("client2_login", {"client-two.com"}),
    ],
)
def test_domain_list_shows_only_visible_relations(client, world, login_attr, expected):
    login(client, getattr(world, login_attr).username)
    assert visible_domains(client) == expected


def test_anonymous_is_sent_to_login(client, world):
    response = client.get("/domains/list/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_client_gets_404_on_another_relations_domain(client, world):
    login(client, world.client2_login.username)
    assert client.get(f"/domains/show/{world.d_c2.id}").status_code == 200
    assert client.get(f"/domains/show/{world.d_c1.id}").status_code == 404
    assert client.get(f"/relations/show/{world.c1.id}").status_code == 404


def test_client_cannot_edit_or_delete_any_domain(client, world, session):
    login(client, world.client1_login.username)
    for url in (f"/domains/edit/{world.d_c1.id}", f"/domains/edit/{world.d_c2.id}"):
        response = client.post(url, data={"name": "stolen.com"})
        assert response.status_code in DENIED
    for url in (f"/domains/delete/{world.d_c1.id}", f"/domains/delete/{world.d_c2.id}"):
        assert client.post(url).status_code in DENIED
    session.expire_all()
    assert {d.name for d in session.query(Domain)} == ALL_DOMAINS


def test_bulk_action_with_another_relations_id_is_refused(client, world):
    login(client, world.client2_login.username)
    response = client.post(
        "/domains/action_post",
        data={"action": "export_selected", "rowid": [str(world.d_c2.id), str(world.d_c1.id)]},
    )
    assert response.status_code == 404
    single = client.post(f"/domains/action/export_selected/{world.d_c1.id}")
    assert single.status_code == 404


def test_bulk_action_on_own_rows_works(client, world):
    login(client, world.reseller_login.username)
    response = client.post(
        "/domains/action_post",
        data={"action": "export_selected", "rowid": [str(world.d_r1.id), str(world.d_c1.id)]},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "reseller-one.com" in body and "client-one.com" in body
    assert "client-two.com" not in body


def test_unknown_action_is_404(client, world):
    login(client, world.admin.username)
    response = client.post("/domains/action_post", data={"action": "nope", "rowid": ["1"]})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("login_attr", "expected"),
    [
        ("client1_login", {"client-one.com"}),
        ("sales_b", {"client-two.com"}),
        ("admin", ALL_DOMAINS),
    ],
)
def test_csv_export_obeys_the_same_scope(client, world, login_attr, expected):
    login(client, getattr(world, login_attr).username)
    response = client.get("/domains/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("domain,domain_ascii,relation_number")
    assert {line.split(",")[0] for line in lines[1:]} == expected


def test_csv_export_neutralises_formulas(client, world, session):
    world.c1.name = '=HYPERLINK("http://evil")'
    session.commit()
    login(client, world.client1_login.username)
    body = client.get("/domains/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_relations_and_decisions_are_scoped(client, world, session):
    for domain in (world.d_c1, world.d_c2):
        session.add(
            RenewalDecision(
                domain=domain,
                decision=Decision.renew,
                years=1,
                expiry_date=domain.expiry_date,
                channel=DecisionChannel.selection_page,
            )
        )
    session.commit()
    login(client, world.client1_login.username)
    relations = client.get("/relations/list/").get_data(as_text=True)
    assert "Client One" in relations and "Client Two" not in relations
    assert "r1@example.com" not in relations  # its reseller is named, but not listed
    assert client.get(f"/relations/show/{world.r1.id}").status_code == 404
    decisions = client.get("/decisions/list/").get_data(as_text=True)
    assert "client-one.com" in decisions and "client-two.com" not in decisions


@pytest.mark.parametrize("login_attr", ["sales_a", "reseller_login", "client1_login"])
@pytest.mark.parametrize("url", ["/users/list/", "/roles/list/", "/permissions/list/"])
def test_no_security_screens_for_non_admins(client, world, login_attr, url):
    login(client, getattr(world, login_attr).username)
    assert client.get(url).status_code in DENIED


def test_decision_history_is_read_only_even_for_admin(client, world, session):
    decision = RenewalDecision(
        domain=world.d_c1,
        decision=Decision.decline,
        expiry_date=world.d_c1.expiry_date,
        channel=DecisionChannel.sales,
    )
    session.add(decision)
    session.commit()
    login(client, world.admin.username)
    assert client.post(f"/decisions/delete/{decision.id}").status_code in DENIED
    assert client.post(f"/decisions/edit/{decision.id}", data={"years": 5}).status_code in DENIED
    session.expire_all()
    assert session.get(RenewalDecision, decision.id).decision is Decision.decline


@pytest.fixture
def domain_editor(world, session, security_manager):
    """A sales contact who may also edit domains (a DB role): the edit guard must keep them
    inside their own relations."""
    role = security_manager.add_role("DomainEditor")
    for permission in ("can_edit", "can_add"):
        pv = security_manager.find_permission_view_menu(permission, "RenewalsDomainView")
        assert pv is not None, "permissions are created by prepare_database"
        security_manager.add_permission_role(role, pv)
    world.sales_a.roles.append(role)
    session.commit()
    return world.sales_a


def edit_form(domain: Domain, relation_id: int) -> dict:
    return {
        "name": domain.name,
        "relation": str(relation_id),
        "expiry_date": domain.expiry_date.isoformat(),
        "status": domain.status.value,
        "renewal_years": "",
        "notes": "",
    }


def test_edit_cannot_move_a_domain_to_another_relation(client, world, session, domain_editor):
    login(client, domain_editor.username)
    # Moving within scope works.
    response = client.post(
        f"/domains/edit/{world.d_c1.id}", data=edit_form(world.d_c1, world.r1.id)
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).relation_id == world.r1.id
    # Moving to a relation of another sales contact is refused.
    response = client.post(
        f"/domains/edit/{world.d_c1.id}", data=edit_form(world.d_c1, world.c2.id)
    )
    assert response.status_code == 200  # the form again, with an error
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).relation_id == world.r1.id
    # Editing a domain outside the scope is a 404.
    assert client.get(f"/domains/edit/{world.d_c2.id}").status_code == 404


def test_add_cannot_create_a_domain_for_another_relation(client, world, session, domain_editor):
    login(client, domain_editor.username)
    form = edit_form(world.d_c1, world.c2.id) | {"name": "new-one.com"}
    client.post("/domains/add", data=form)
    session.expire_all()
    assert session.query(Domain).filter_by(name="new-one.com").count() == 0
    form = edit_form(world.d_c1, world.c1.id) | {"name": "new-two.com"}
    client.post("/domains/add", data=form)
    assert session.query(Domain).filter_by(name="new-two.com").one().relation_id == world.c1.id


def test_access_functions_deny_without_a_user(session, world):
    from renewal_reminder.renewals import access

    assert access.can_access_relation(session, None, world.c1.id) is False
    with pytest.raises(access.AccessDenied):
        access.get_domain_for(session, None, world.d_c1.id)
    assert access.get_domain_for(session, world.client1_login, world.d_c1.id) == world.d_c1
    with pytest.raises(access.AccessDenied):
        access.get_domain_for(session, world.client1_login, world.d_c2.id)
    assert dt.date.today() < world.d_c1.expiry_date
