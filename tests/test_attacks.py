"""Attacks on the access rules and the public page, as a malicious customer, sales contact or
anonymous visitor. Every test asserts the *secure* behaviour: a failing test is a hole."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from renewal_reminder import settings as rr_settings
from renewal_reminder.models import (
    ConfirmationRequest,
    Decision,
    DecisionChannel,
    Domain,
    Relation,
    RenewalDecision,
)
from renewal_reminder.renewals import codes
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import PASSWORD, client_of, login

DENIED = (302, 403)
CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
CUSTOMERS = ["client1_login", "reseller_login"]
NON_ADMINS = ["sales_a", "reseller_login", "client1_login"]


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


def body(response) -> str:
    return response.get_data(as_text=True)


def without_nonces(html: str) -> str:
    """A page without its per-request script nonces, to compare two answers."""
    return re.sub(r' nonce="[^"]*"', "", html)


def as_user(client, world, attr):
    login(client, getattr(world, attr).username)


def send_request(client, world, domain):
    """Admin sends an activation code for ``domain`` (read it with ``last_code``)."""
    login(client, world.admin.username)
    response = client.post(
        f"/domains/action/send_confirmation_request/{domain.id}", follow_redirects=True
    )
    assert response.status_code == 200  # the redirect is followed: its flash is shown
    client.post("/logout/")


def last_code(smtp) -> str:
    message = smtp.messages[-1]
    return CODE.search(message.get_body(("plain",)).get_content()).group(0)


def csrf_token(client, url: str) -> str:
    html = body(client.get(url))
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def decision_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(RenewalDecision))


# --- FAB's generic ModelView routes ------------------------------------------------------------


def _product_urls(world):
    d1, r1, c1 = world.d_c1.id, world.r1.id, world.c1.id
    return {
        "relation_add": (
            "/relations/add",
            {"number": "999", "name": "X", "billing_email": "x@x.io"},
        ),
        "relation_edit": (f"/relations/edit/{c1}", {"name": "Pwned"}),
        "relation_delete": (f"/relations/delete/{c1}", {}),
        "relation_delete_parent": (f"/relations/delete/{r1}", {}),
        "domain_add": ("/domains/add", {"name": "evil.com", "relation": str(c1)}),
        "domain_edit": (f"/domains/edit/{d1}", {"name": "evil.com"}),
        "domain_delete": (f"/domains/delete/{d1}", {}),
        "decision_add": ("/decisions/add", {"decision": "renew"}),
        "request_add": ("/confirmation-requests/add", {"sent_to": "x@x.io"}),
    }


@pytest.mark.parametrize("login_attr", NON_ADMINS)
@pytest.mark.parametrize(
    "key",
    [
        "relation_add",
        "relation_edit",
        "relation_delete",
        "relation_delete_parent",
        "domain_add",
        "domain_edit",
        "domain_delete",
        "decision_add",
        "request_add",
    ],
)
def test_no_writes_through_generic_crud_routes(client, world, session, login_attr, key):
    as_user(client, world, login_attr)
    url, data = _product_urls(world)[key]
    assert client.get(url).status_code in DENIED + (404, 405)
    assert client.post(url, data=data).status_code in DENIED + (404, 405)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Relation)) == 3
    assert {d.name for d in session.scalars(select(Domain))} == {
        "reseller-one.com",
        "client-one.com",
        "client-two.com",
    }
    assert session.get(Relation, world.c1.id).name == "Client One"


@pytest.mark.parametrize("login_attr", [None, *NON_ADMINS])
@pytest.mark.parametrize(
    "url",
    [
        "/email-templates/list/",
        "/email-templates/show/1",
        "/email-templates/edit/1",
        "/email-templates/preview/1",
        "/email-templates/preview/1?relation=200",
        "/email-templates/action/reset_to_default/1",
        "/reminder-log/list/",
        "/reminder-log/show/1",
        "/portfolio-import/form",
        "/users/list/",
        "/users/show/1",
        "/users/edit/1",
        "/users/add",
        "/users/userinfo/",
        "/userinfoeditview/form",
        "/resetmypassword/form",
        "/resetpassword/form?pk=1",
        "/roles/list/",
        "/roles/add",
        "/roles/edit/1",
        "/groups/list/",
        "/groups/add",
        "/permissions/list/",
        "/permissionviews/list/",
        "/viewmenus/list/",
        "/userstatschartview/chart/",
        "/domains/download/x.csv",
        "/relations/download/x",
    ],
)
def test_admin_and_security_screens_are_closed(client, world, templates, login_attr, url):
    if login_attr:
        as_user(client, world, login_attr)
    response = client.get(url)
    assert response.status_code in DENIED + (404,), (url, response.status_code)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"] or response.headers["Location"].endswith(
            "/"
        )


@pytest.mark.parametrize("login_attr", NON_ADMINS)
def test_no_privilege_escalation_through_fab_security_forms(
    client, world, session, security_manager, login_attr
):
    user = getattr(world, login_attr)
    as_user(client, world, login_attr)
    admin_role = security_manager.find_role("Admin")
    posts = [
        (f"/users/edit/{user.id}", {"roles": str(admin_role.id), "username": user.username}),
        ("/users/add", {"username": "evil", "roles": str(admin_role.id), "password": "x" * 12}),
        (f"/resetpassword/form?pk={world.admin.id}", {"password": "hacked-pw-123"}),
        ("/resetmypassword/form", {"password": "hacked-pw-123", "conf_password": "hacked-pw-123"}),
        ("/userinfoeditview/form", {"first_name": "Evil\r\nBcc: x@evil.example"}),
        ("/roles/add", {"name": "Evil"}),
        (f"/roles/edit/{admin_role.id}", {"name": "Admin"}),
    ]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code in DENIED + (404, 405), (url, response.status_code)
    session.expire_all()
    assert [r.name for r in session.get(type(user), user.id).roles] != ["Admin"]
    assert "Admin" not in {r.name for r in session.get(type(user), user.id).roles}
    assert security_manager.find_user(username="evil") is None
    assert security_manager.find_role("Evil") is None
    # The admin's password is unchanged.
    client.post("/logout/")
    response = client.post(
        "/login/", data={"username": world.admin.username, "password": "hacked-pw-123"}
    )
    assert "/login/" in response.headers.get("Location", "")


def test_builtin_roles_grant_exactly_what_roles_py_lists(app, world, session, security_manager):
    """Match every permission-on-view FAB knows against each builtin role's regexes."""
    from renewal_reminder.renewals.access import current_roles
    from renewal_reminder.roles import builtin_roles

    pvs = session.scalars(select(security_manager.permissionview_model)).all()
    assert pvs, "permission rows exist (prepare_database)"
    for role_name, grants in builtin_roles(current_roles()).items():
        role = security_manager.find_role(role_name)
        declared = {(v.strip("^$"), p.strip("^$")) for v, p in grants}
        granted = {
            (pv.view_menu.name, pv.permission.name)
            for pv in pvs
            if security_manager._has_access_builtin_roles(
                role, pv.permission.name, pv.view_menu.name
            )
        }
        assert granted <= declared, (role_name, granted - declared)
        assert not any(
            v in ("UserDBModelView", "RoleModelView", "PermissionModelView", "ResetPasswordView")
            for v, _ in granted
        )
        forbidden = {"can_add", "can_edit", "can_delete", "can_download", "can_preview"}
        assert not {p for _, p in granted} & forbidden, role_name


def test_public_role_grants_nothing(client, world, session, security_manager):
    public = security_manager.find_role("Public")
    assert list(public.permissions) == []
    for url in ("/domains/list/", "/relations/list/", "/decisions/list/", "/renewals/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- related views, show pages and the confirmation-request table ---------------------------


@pytest.mark.parametrize("login_attr", CUSTOMERS)
def test_customers_never_see_confirmation_requests(
    client, world, session, smtp, templates, login_attr
):
    send_request(client, world, world.d_c1)
    [request] = session.scalars(select(ConfirmationRequest)).all()
    as_user(client, world, login_attr)
    assert client.get("/confirmation-requests/list/").status_code in DENIED
    assert client.get(f"/confirmation-requests/show/{request.id}").status_code in DENIED
    show = client.get(f"/domains/show/{world.d_c1.id}")
    assert show.status_code == 200
    html = body(show)
    # Neither the related tab (who sent it, to whom, its state) nor the hash.
    assert request.code_hash not in html
    if login_attr == "client1_login":  # the code went to its reseller (reminders go there)
        assert request.sent_to == "r1@example.com"
        assert "r1@example.com" not in html, "the reseller's billing email"
    assert world.admin.username not in html, "who sent the request"
    assert "Code expires" not in html and "Sent by" not in html
    assert "Confirmation requests" not in html


def test_code_hash_is_never_shown_to_sales(client, world, session, smtp, templates):
    send_request(client, world, world.d_c1)
    [request] = session.scalars(select(ConfirmationRequest)).all()
    login(client, world.sales_a.username)
    for url in (
        "/confirmation-requests/list/",
        f"/confirmation-requests/show/{request.id}",
        f"/domains/show/{world.d_c1.id}",
        f"/confirmation-requests/list/?_flt_0_code_hash={request.code_hash[:8]}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert request.code_hash not in body(response), url
        assert request.code_hash[8:24] not in body(response), url


def test_sales_cannot_see_other_sales_confirmation_requests(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c2)
    [request] = session.scalars(select(ConfirmationRequest)).all()
    login(client, world.sales_a.username)
    assert "c2@example.com" not in body(client.get("/confirmation-requests/list/"))
    assert client.get(f"/confirmation-requests/show/{request.id}").status_code == 404
    response = client.get(f"/domains/show/{world.d_c2.id}")
    assert response.status_code == 404


def test_filter_on_hidden_column_is_not_an_oracle(client, world, session, smtp, templates):
    """A filter on a column outside search_columns (code_hash) must be ignored, not applied:
    otherwise a sales contact could test hash guesses."""
    send_request(client, world, world.d_c1)
    login(client, world.sales_a.username)
    for arg in ("_flt_0_code_hash=nope", "_flt_1_code_hash=zz", "_flt_0_domain=999999"):
        html = body(client.get(f"/confirmation-requests/list/?{arg}"))
        assert "r1@example.com" in html, arg


def test_ordering_by_a_hidden_column_is_ignored(client, world, session, smtp, templates):
    """``_oc_`` must only order by ``order_columns``: ordering by code_hash (or a joined
    user's password hash) would be an oracle on columns the view never shows."""
    for _ in range(4):
        send_request(client, world, world.d_c1)
        send_request(client, world, world.d_r1)
    login(client, world.sales_a.username)

    def order(direction):
        html = body(
            client.get(
                "/confirmation-requests/list/?_oc_RenewalsConfirmationRequestView=code_hash"
                f"&_od_RenewalsConfirmationRequestView={direction}"
            )
        )
        return re.findall(r"/confirmation-requests/show/(\d+)", html)

    default = re.findall(
        r"/confirmation-requests/show/(\d+)", body(client.get("/confirmation-requests/list/"))
    )
    assert order("asc") == default and order("desc") == default


@pytest.mark.parametrize("login_attr", CUSTOMERS)
def test_customers_see_no_staff_ip_addresses(client, world, session, login_attr):
    """A decision recorded by Sales on a customer's behalf stores the sales contact's address;
    customers must not see staff's remote addresses."""
    session.add(
        RenewalDecision(
            domain=world.d_c1,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_c1.expiry_date,
            channel=DecisionChannel.sales,
            decided_by_id=world.sales_a.id,
            remote_addr="10.66.77.88",
        )
    )
    session.commit()
    decision_id = session.scalar(select(RenewalDecision.id))
    as_user(client, world, login_attr)
    for url in (
        "/decisions/list/",
        f"/decisions/show/{decision_id}",
        f"/domains/show/{world.d_c1.id}",
    ):
        assert "10.66.77.88" not in body(client.get(url)), url


# --- search filters, dropdowns, ordering and page sizes ---------------------------------------


@pytest.mark.parametrize("login_attr", CUSTOMERS)
@pytest.mark.parametrize(
    "url",
    [
        "/domains/list/",
        "/relations/list/",
        "/decisions/list/",
        "/domains/list/?_flt_0_relation_id=Client%20Two",
        "/domains/list/?_flt_0_relation_id=200",
        "/domains/list/?_flt_1_relation_id=sales-b",
        "/domains/list/?_flt_0_name=client-two",
        "/domains/list/?_flt_0_relation=3",
        "/relations/list/?_flt_0_parent=1",
        "/relations/list/?_flt_0_name=Client%20Two",
        "/relations/list/?_flt_0_sales_contact_id=sales-b",
        "/relations/list/?_flt_0_billing_email=c2",
        "/relations/list/?_flt_0_number=200",
        "/domains/list/?_oc_RenewalsDomainView=notes&_od_RenewalsDomainView=asc",
        "/domains/list/?psize_RenewalsDomainView=100000",
        "/domains/export.csv",
        "/domains/export.csv?_flt_0_relation_id=200",
        "/domains/export.csv?_flt_0_name=client-two",
        "/domains/export.csv?_oc_RenewalsDomainView=relation.name&_od_RenewalsDomainView=desc",
    ],
)
def test_customers_never_see_other_relations_by_filters(client, world, login_attr, url):
    as_user(client, world, login_attr)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    html = body(response)
    for secret in ("client-two.com", "Client Two", "c2@example.com", "sales-b@example.com"):
        echoed = secret.replace(" ", "%20").split("@")[0].removesuffix(".com") in url
        if not echoed:  # the search form shows the typed text back; that is no leak
            assert secret not in html, (url, secret)
    # The other relation's row itself: its domain, number and billing email.
    assert "client-two.com" not in html and "c2@example.com" not in html, url
    assert ">200<" not in html.replace(" ", ""), url


@pytest.mark.parametrize("login_attr", ["client1_login", "client2_login", "reseller_login"])
def test_search_dropdowns_list_only_visible_relations(client, world, login_attr):
    as_user(client, world, login_attr)
    own = {
        "client1_login": {"Client One"},
        "client2_login": {"Client Two"},
        "reseller_login": {"Reseller One", "Client One"},
    }[login_attr]
    html = body(client.get("/relations/list/")) + body(client.get("/domains/list/"))
    for name in {"Reseller One", "Client One", "Client Two"} - own:
        # the reseller of a client is named in its row; not in a dropdown <option>
        assert not re.search(rf"<option[^>]*>\s*{name}\s*</option>", html), name
    for email in ("sales-a@example.com", "sales-b@example.com"):
        assert not re.search(rf"<option[^>]*>[^<]*{email}", html)


def test_sales_search_dropdowns_list_only_their_relations(client, world):
    login(client, world.sales_b.username)
    html = body(client.get("/relations/list/")) + body(client.get("/domains/list/"))
    for name in ("Reseller One", "Client One", "reseller-one.com", "client-one.com"):
        assert name not in html


@pytest.mark.parametrize(
    "url",
    [
        "/domains/show/99999999999999999999999",
        "/domains/show/-1",
        "/domains/show/abc",
        "/domains/list/?page_RenewalsDomainView=abc",
        "/domains/list/?page_RenewalsDomainView=-5",
        "/domains/list/?psize_RenewalsDomainView=abc",
        "/domains/list/?psize_RenewalsDomainView=-1",
        "/domains/list/?_oc_RenewalsDomainView=relation.name&_od_RenewalsDomainView=asc",
        "/domains/list/?_flt_0_expiry_date=not-a-date",
        "/domains/list/?_flt_0_renewal_years=abc",
        "/relations/list/?_flt_0_number=99999999999999999999999",
        "/relations/list/?_flt_0_parent=abc",
        "/decisions/list/?_flt_0_decided_at=garbage",
        "/domains/export.csv?_flt_0_expiry_date=garbage",
    ],
)
def test_malformed_list_arguments_do_not_crash(client, world, url):
    login(client, world.client1_login.username)
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)


def test_malformed_bulk_action_ids_do_not_crash(client, world):
    login(client, world.client1_login.username)
    for rowid in ("abc", "99999999999999999999999", "-1", ""):
        response = client.post(
            "/domains/action_post", data={"action": "export_selected", "rowid": [rowid]}
        )
        assert response.status_code == 404, (rowid, response.status_code)


def test_page_size_is_capped(client, world, session):
    """psize_ lets anyone ask for every row at once (memory and time): it should be capped."""
    session.add_all(
        Domain(name=f"bulk{i}.com", relation=world.c1, expiry_date=dt.date.today())
        for i in range(120)
    )
    session.commit()
    login(client, world.client1_login.username)
    html = body(client.get("/domains/list/?psize_RenewalsDomainView=100000000"))
    assert len(set(re.findall(r"bulk\d+\.com", html))) <= 100


@pytest.mark.parametrize("login_attr", ["client1_login", "sales_b"])
def test_bulk_actions_stay_in_scope(client, world, smtp, templates, login_attr):
    as_user(client, world, login_attr)
    foreign = world.d_c1 if login_attr == "sales_b" else world.d_c2
    for action in ("export_selected", "send_confirmation_request"):
        response = client.post(
            "/domains/action_post", data={"action": action, "rowid": [str(foreign.id)]}
        )
        assert response.status_code in DENIED + (404,)
        response = client.post(f"/domains/action/{action}/{foreign.id}")
        assert response.status_code in DENIED + (404,)
    assert smtp.messages == []


@pytest.mark.parametrize("login_attr", NON_ADMINS)
def test_no_actions_on_admin_only_views(client, world, session, templates, login_attr):
    from renewal_reminder.models import EmailTemplate

    row = session.scalars(select(EmailTemplate)).first()
    row.subject = "Changed by admin"
    session.commit()
    as_user(client, world, login_attr)
    client.post(f"/email-templates/action/reset_to_default/{row.id}")
    client.post(
        "/email-templates/action_post", data={"action": "reset_to_default", "rowid": [row.id]}
    )
    session.expire_all()
    assert session.get(EmailTemplate, row.id).subject == "Changed by admin"


# --- the JSON API ------------------------------------------------------------------------------


def test_menu_api_shows_only_granted_items(client, world):
    anonymous = client.get("/api/v1/menu/")
    assert anonymous.status_code in (401, 403) or "Domains" not in body(anonymous)
    login(client, world.client1_login.username)
    text = body(client.get("/api/v1/menu/"))
    for hidden in (
        "Security",
        "List Users",
        "Email templates",
        "Reminder log",
        "Import portfolio",
        "Confirmation requests",
    ):
        assert hidden not in text, hidden


@pytest.mark.app_config(
    RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", AUTH_RATE_LIMIT="5 per minute"
)
def test_api_login_is_rate_limited_too(client, world):
    """FAB always registers /api/v1/security/login (CSRF-exempt, JSON). The documented login
    rate limit must cover it, or it is an unlimited password-guessing oracle."""
    statuses = [
        client.post(
            "/api/v1/security/login",
            json={"username": world.admin.username, "password": f"guess-{n}", "provider": "db"},
        ).status_code
        for n in range(8)
    ]
    assert 429 in statuses, statuses


def test_api_login_does_not_hand_out_tokens(client, world):
    """FAB_ADD_SECURITY_API is off; no JWT should be issued for the product's logins."""
    response = client.post(
        "/api/v1/security/login",
        json={"username": world.client1_login.username, "password": PASSWORD, "provider": "db"},
    )
    assert "access_token" not in body(response)


# --- login: open redirects and user enumeration ----------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "https:evil.example",
        "http:/evil.example",
        " //evil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
        "\t//evil.example",
        "/\t/evil.example",
    ],
)
def test_login_next_is_not_an_open_redirect(client, world, target):
    response = client.post(
        "/login/",
        query_string={"next": target},
        data={"username": world.client1_login.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    # Where a browser goes: it reads a backslash as a slash ("/\evil" is "//evil").
    resolved = urlsplit(urljoin("http://localhost/login/", location.replace("\\", "/").strip()))
    assert resolved.scheme == "http" and resolved.netloc == "localhost", location


def test_login_failure_does_not_reveal_which_logins_exist(client, world):
    def attempt(username):
        client.post("/logout/")
        response = client.post(
            "/login/", data={"username": username, "password": "wrong"}, follow_redirects=True
        )
        return re.sub(r'value="[^"]*"', "", without_nonces(body(response)))

    assert attempt(world.client1_login.username) == attempt("nobody@example.com")


# --- the renewal selection page ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("login_attr", "relation"),
    [
        ("client1_login", "200"),
        ("client1_login", "100"),  # its own reseller
        ("client2_login", "101"),
        ("reseller_login", "200"),
        ("sales_b", "100"),
        ("sales_b", "101"),
        ("sales_a", "200"),
        ("client1_login", "-101"),
        ("client1_login", "%23200"),
        ("client1_login", "200.0"),
        ("client1_login", "0x64"),
        ("client1_login", "99999999999999999999999"),
        ("client1_login", "999999999999"),
        ("client1_login", "abc"),
        ("client1_login", "２００"),  # full-width digits: str.isdigit() says yes
    ],
)
def test_selection_page_for_another_relation_is_404(client, world, login_attr, relation):
    as_user(client, world, login_attr)
    for url in (f"/renewals/?relation={relation}", f"/renewals/summary?relation={relation}"):
        response = client.get(url)
        assert response.status_code in (302, 404), (url, response.status_code)
        assert "client-two.com" not in body(response) or login_attr == "client2_login"
    response = client.post(f"/renewals/?relation={relation}", data={})
    assert response.status_code == 404, response.status_code
    response = client.post("/renewals/", data={"relation": relation})  # in the body
    assert response.status_code == 404, response.status_code


@pytest.mark.parametrize("login_attr", ["client1_login", "reseller_login", "sales_a"])
def test_selection_post_with_foreign_domain_is_rejected_whole(client, world, session, login_attr):
    as_user(client, world, login_attr)
    query = "?relation=101" if login_attr == "sales_a" else ""
    response = client.post(
        f"/renewals/{query}",
        data={
            f"decision-{world.d_c1.id}": "renew",
            f"years-{world.d_c1.id}": "1",
            f"decision-{world.d_c2.id}": "decline",
        },
    )
    assert response.status_code == 422
    assert "client-two.com" not in body(response)
    assert decision_count(session) == 0


def test_selection_reject_message_does_not_reveal_existence(client, world, session):
    login(client, world.client1_login.username)

    def reject(domain_id):
        html = body(client.post("/renewals/", data={f"decision-{domain_id}": "decline"}))
        return re.sub(r'value="[^"]*"', "", without_nonces(html))

    assert reject(world.d_c2.id) == reject(987654)
    assert decision_count(session) == 0


@pytest.mark.parametrize(
    "field", ["decision-999999999999", "decision-2147483648", "decision-9223372036854775808"]
)
def test_selection_overflowing_ids_are_rejected_cleanly(client, world, session, field):
    login(client, world.client1_login.username)
    response = client.post("/renewals/", data={field: "renew", "years-1": "1"})
    assert response.status_code in (302, 422)  # ignored (not a field) or rejected
    assert decision_count(session) == 0


@pytest.mark.parametrize(
    "years", ["0", "11", "-1", "99999999999999999999999", "1e3", "1.5", "", "NaN"]
)
def test_selection_bad_years_are_rejected(client, world, session, years):
    login(client, world.client1_login.username)
    response = client.post(
        "/renewals/",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": years},
    )
    assert response.status_code == 422
    assert decision_count(session) == 0


def test_selection_huge_form_is_refused_cleanly(client, world, session):
    login(client, world.client1_login.username)
    data = {f"decision-{i}": "renew" for i in range(10_000, 20_000)}
    response = client.post("/renewals/", data=data)
    assert response.status_code in (400, 413, 422)
    assert decision_count(session) == 0


def test_selection_unknown_decision_values_are_rejected(client, world, session):
    login(client, world.client1_login.username)
    for value in ("RENEW'--", "<script>", "superseded", "delete"):
        response = client.post("/renewals/", data={f"decision-{world.d_c1.id}": value})
        assert response.status_code == 422
        assert "<script>" not in body(response)
    assert decision_count(session) == 0


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_selection_post_needs_the_csrf_token(app, world, session):
    # Each request in its own context, as in a server: Flask-WTF remembers a checked token
    # in ``g`` for the rest of the request.
    client = client_of(app)
    login_token = csrf_token(client, "/login/")
    client.post(
        "/login/",
        data={
            "username": world.client1_login.username,
            "password": PASSWORD,
            "csrf_token": login_token,
        },
    )
    response = client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 400
    assert decision_count(session) == 0
    token = csrf_token(client, "/renewals/")
    response = client.post(
        "/renewals/", data={f"decision-{world.d_c1.id}": "decline", "csrf_token": token}
    )
    assert response.status_code == 302
    assert decision_count(session) == 1


def test_selection_summary_shows_only_own_decisions(client, world, session):
    """The summary reads decision ids from the (signed) session; forged ids cannot be planted,
    and another relation's number in the URL is refused."""
    login(client, world.client1_login.username)
    client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert client.get("/renewals/summary?relation=200").status_code == 404
    with client.session_transaction() as s:
        s["rr_selection_summary"]["decisions"] = list(range(1, 50))
    other = RenewalDecision(
        domain=world.d_c2,
        decision=Decision.renew,
        years=3,
        expiry_date=world.d_c2.expiry_date,
        channel=DecisionChannel.sales,
    )
    session.add(other)
    session.commit()
    html = body(client.get("/renewals/summary"))
    assert "client-two.com" not in html


# --- stored XSS through names ----------------------------------------------------------------

XSS = '<script>alert("rr")</script><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(
    ("login_attr", "url"),
    [
        ("reseller_login", "/renewals/"),
        ("reseller_login", "/relations/list/"),
        ("reseller_login", "/domains/list/"),
        ("reseller_login", "/domains/show/{d_c1}"),
        ("reseller_login", "/relations/show/{c1}"),
        ("reseller_login", "/decisions/list/"),
        ("sales_a", "/renewals/?relation=100"),
        ("sales_a", "/confirmation-requests/list/"),
        ("admin", "/email-templates/preview/{tpl}?relation=101"),
        ("admin", "/reminder-log/list/"),
    ],
)
def test_relation_names_are_escaped_everywhere(client, world, session, templates, login_attr, url):
    from renewal_reminder.models import EmailTemplate

    world.c1.name = XSS
    session.add(
        RenewalDecision(
            domain=world.d_c1,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_c1.expiry_date,
            channel=DecisionChannel.sales,
        )
    )
    session.commit()
    tpl = session.scalar(select(EmailTemplate.id).where(EmailTemplate.name == "renewal_reminder"))
    as_user(client, world, login_attr)
    response = client.get(url.format(d_c1=world.d_c1.id, c1=world.c1.id, tpl=tpl))
    assert response.status_code == 200, response.status_code
    html = body(response)
    assert "<script>alert(" not in html
    assert "<img src=x" not in html


def test_user_names_are_escaped_on_staff_pages(client, world, session, security_manager):
    world.sales_a.first_name = XSS
    session.commit()
    login(client, world.reseller_login.username)
    for url in ("/relations/list/", f"/relations/show/{world.r1.id}", "/domains/list/"):
        html = body(client.get(url))
        assert "<script>alert(" not in html and "<img src=x" not in html, url


# --- email header injection through names ------------------------------------------------------


def test_names_cannot_inject_email_headers(client, world, session, smtp, templates):
    evil = "Evil\r\nBcc: attacker@evil.example\r\nX-Injected: yes"
    world.c1.name = evil
    world.r1.name = evil
    world.reseller_login.first_name = evil
    world.sales_a.first_name = evil
    session.commit()
    login(client, world.reseller_login.username)
    response = client.post(
        "/renewals/",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "2"},
    )
    assert response.status_code == 302
    client.post("/logout/")
    send_request(client, world, world.d_c1)
    assert len(smtp.messages) >= 2
    for message, (_, recipients) in zip(smtp.messages, smtp.envelopes, strict=True):
        assert message["X-Injected"] is None
        assert message["Bcc"] is None
        assert "attacker@evil.example" not in recipients
        assert "\n" not in str(message["Subject"])


# --- the public confirmation page --------------------------------------------------------------


def normalized_page(response) -> str:
    html = without_nonces(body(response))
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"', "", html)


def test_confirm_every_bad_code_looks_the_same(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    used = last_code(smtp)
    assert client.post("/confirm/", data={"code": used}).status_code == 200
    client.post("/confirm/decide", data={"code": used, "decision": "decline"})
    send_request(client, world, world.d_c1)
    revoked = last_code(smtp)
    send_request(client, world, world.d_c1)  # revokes the previous one
    answers = {
        normalized_page(client.post("/confirm/", data={"code": code}))
        for code in (used, revoked, "AAAA-BBBB-CCCC", "client-two.com")
    }
    assert len(answers) == 1
    decide_answers = {
        normalized_page(
            client.post("/confirm/decide", data={"code": code, "decision": "renew", "years": "1"})
        )
        for code in (used, revoked, "AAAA-BBBB-CCCC")
    }
    assert len(decide_answers) == 1
    assert "client-two.com" not in "".join(answers | decide_answers)
    assert "client-one.com" not in "".join(answers | decide_answers)


def test_confirm_code_in_the_url_is_not_accepted(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    for url in (f"/confirm/?code={code}", f"/confirm/decide?code={code}"):
        response = client.get(url)
        assert "client-two.com" not in body(response)


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_CONFIRMATION_RATE_LIMIT="4 per minute")
def test_confirm_rate_limit_is_shared_by_both_steps(client, world, templates):
    statuses = [
        client.post("/confirm/", data={"code": "AAAA-BBBB-CCC1"}).status_code,
        client.post(
            "/confirm/decide", data={"code": "AAAA-BBBB-CCC2", "decision": "renew"}
        ).status_code,
        client.post("/confirm/", data={"code": "AAAA-BBBB-CCC3"}).status_code,
        client.post(
            "/confirm/decide", data={"code": "AAAA-BBBB-CCC4", "decision": "renew"}
        ).status_code,
        client.post(
            "/confirm/decide", data={"code": "AAAA-BBBB-CCC5", "decision": "renew"}
        ).status_code,
        client.post("/confirm/", data={"code": "AAAA-BBBB-CCC6"}).status_code,
    ]
    assert statuses[:4] == [400] * 4 and statuses[4:] == [429, 429], statuses


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_CONFIRMATION_RATE_LIMIT="3 per minute")
def test_confirm_rate_limit_ignores_spoofed_forwarding_headers(client, world, templates):
    statuses = [
        client.post(
            "/confirm/",
            data={"code": f"AAAA-BBBB-CC{n:02d}"},
            headers={
                "X-Forwarded-For": f"203.0.113.{n}",
                "X-Real-IP": f"203.0.113.{n}",
                "Forwarded": f"for=203.0.113.{n}",
            },
        ).status_code
        for n in range(5)
    ]
    assert statuses[3:] == [429, 429], statuses


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_CONFIRMATION_RATE_LIMIT="3 per minute")
def test_confirm_rate_limit_is_not_bypassed_by_method_or_path_tricks(client, world, templates):
    for n in range(3):
        client.post("/confirm/", data={"code": f"AAAA-BBBB-CC{n:02d}"})
    for url in ("/confirm/", "/confirm", "/confirm/decide", "/confirm//", "/CONFIRM/"):
        response = client.post(url, data={"code": "AAAA-BBBB-CCCC", "decision": "renew"})
        assert response.status_code in (404, 405, 308, 429), (url, response.status_code)


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_confirm_decide_needs_a_token_even_with_a_valid_code(
    client, world, session, smtp, templates
):
    with client.application.test_client() as staff:
        login_token = csrf_token(staff, "/login/")
        staff.post(
            "/login/",
            data={
                "username": world.admin.username,
                "password": PASSWORD,
                "csrf_token": login_token,
            },
        )
        token = csrf_token(staff, "/domains/list/")
        staff.post(
            f"/domains/action/send_confirmation_request/{world.d_c2.id}",
            data={"csrf_token": token},
        )
    code = last_code(smtp)
    response = client.post("/confirm/decide", data={"code": code, "decision": "decline"})
    assert response.status_code == 400
    assert decision_count(session) == 0
    session.expire_all()
    assert session.scalar(select(ConfirmationRequest)).used_at is None


def test_confirm_pages_escape_names(client, world, session, smtp, templates):
    world.c2.name = XSS
    session.commit()
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    step2 = body(client.post("/confirm/", data={"code": code}))
    assert "client-two.com" in step2
    assert "<script>alert(" not in step2 and "<img src=x" not in step2
    result = body(client.post("/confirm/decide", data={"code": code, "decision": "renew"}))
    assert "<script>alert(" not in result and "<img src=x" not in result


@pytest.mark.parametrize(
    "years", ["0", "11", "-3", "99999999999999999999999999", "abc", "1e2", "2.5"]
)
def test_confirm_bad_years_change_nothing(client, world, session, smtp, templates, years):
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    response = client.post(
        "/confirm/decide", data={"code": code, "decision": "renew", "years": years}
    )
    assert response.status_code == 400
    assert decision_count(session) == 0
    session.expire_all()
    assert session.scalar(select(ConfirmationRequest)).used_at is None


def test_confirm_bad_decision_values_change_nothing(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    for decision in ("superseded", "RENEW", "", "renew\x00"):
        response = client.post("/confirm/decide", data={"code": code, "decision": decision})
        assert response.status_code == 400, decision
    assert decision_count(session) == 0


def test_confirm_code_works_only_for_its_own_domain(client, world, session, smtp, templates):
    """The decide step must act on the code's domain, never on a domain id the visitor adds."""
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    client.post(
        "/confirm/decide",
        data={
            "code": code,
            "decision": "decline",
            "domain": str(world.d_c1.id),
            "domain_id": str(world.d_c1.id),
            f"decision-{world.d_c1.id}": "decline",
        },
    )
    session.expire_all()
    decided = {d.domain_id for d in session.scalars(select(RenewalDecision))}
    assert decided == {world.d_c2.id}
    assert session.get(Domain, world.d_c1.id).status.value == "active"


def test_confirm_code_cannot_be_replayed(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    assert (
        client.post("/confirm/decide", data={"code": code, "decision": "renew"}).status_code == 200
    )
    again = client.post("/confirm/decide", data={"code": code, "decision": "decline"})
    assert again.status_code == 400
    session.expire_all()
    assert [d.decision for d in session.scalars(select(RenewalDecision))] == [Decision.renew]


def test_confirm_hash_lookup_is_keyed(app, world, session, smtp, templates, client):
    """A leaked code_hash (or a hash computed without the key) is not a usable code."""
    send_request(client, world, world.d_c2)
    request = session.scalar(select(ConfirmationRequest))
    for attempt in (request.code_hash, request.code_hash[:12]):
        response = client.post("/confirm/", data={"code": attempt})
        assert response.status_code == 400
    unkeyed = codes.CodeSettings(b"", 30)
    assert codes.code_hash(unkeyed, "0" * 12) != codes.code_hash(
        codes.CodeSettings.from_config(rr_settings.read(app.config)), "0" * 12
    )


def test_confirm_pages_are_not_cached(client, world, session, smtp, templates):
    """Step two carries the code in a hidden field: it should not be stored by caches."""
    send_request(client, world, world.d_c2)
    code = last_code(smtp)
    response = client.post("/confirm/", data={"code": code})
    assert "no-store" in response.headers.get("Cache-Control", "")


# --- DB-granted editors (an Admin gives a sales contact an edit role) ------------------------


def _grant(security_manager, session, user, role_name, view, permissions):
    role = security_manager.add_role(role_name)
    for permission in permissions:
        pv = security_manager.find_permission_view_menu(permission, view)
        assert pv is not None, "permissions are created by prepare_database"
        security_manager.add_permission_role(role, pv)
    user.roles.append(role)
    session.commit()
    return user


@pytest.fixture
def reseller_two(world, session):
    """A second reseller, of sales contact B, with a client."""
    from renewal_reminder.models import RelationKind

    r2 = Relation(
        number=300,
        name="Reseller Two",
        billing_email="r2@example.com",
        kind=RelationKind.reseller,
        sales_contact_id=world.sales_b.id,
    )
    session.add(r2)
    session.commit()
    return r2


@pytest.fixture
def domain_editor(world, session, security_manager):
    return _grant(
        security_manager,
        session,
        world.sales_a,
        "DomainEditor",
        "RenewalsDomainView",
        ("can_add", "can_edit"),
    )


@pytest.fixture
def relation_editor(world, session, security_manager):
    return _grant(
        security_manager,
        session,
        world.sales_a,
        "RelationEditor",
        "RenewalsRelationView",
        ("can_add", "can_edit"),
    )


def test_domain_form_filter_args_cannot_reach_other_relations(
    client, world, session, domain_editor
):
    """FAB pre-fills a form's relation from ``_flt_`` args (loading it by id, unscoped)."""
    login(client, domain_editor.username)
    for url in (
        f"/domains/add?_flt_0_relation={world.c2.id}",
        f"/domains/edit/{world.d_c1.id}?_flt_0_relation={world.c2.id}",
    ):
        response = client.get(url)
        assert "Client Two" not in body(response), url
    client.post(
        f"/domains/add?_flt_0_relation={world.c2.id}",
        data={"name": "planted.com", "expiry_date": "2030-01-01", "status": "active"},
    )
    client.post(
        f"/domains/edit/{world.d_c1.id}?_flt_0_relation={world.c2.id}",
        data={"name": "client-one.com", "expiry_date": "2030-01-01", "status": "active"},
    )
    session.expire_all()
    assert session.scalar(select(Domain).where(Domain.name == "planted.com")) is None
    assert session.get(Domain, world.d_c1.id).relation_id == world.c1.id


def test_relation_form_dropdowns_list_only_visible_relations(
    client, world, session, relation_editor, reseller_two
):
    login(client, relation_editor.username)
    html = body(client.get("/relations/add")) + body(client.get(f"/relations/edit/{world.c1.id}"))
    assert "Reseller Two" not in html


def test_relation_editor_cannot_attach_relations_to_another_tree(
    client, world, session, relation_editor, reseller_two
):
    """Moving Client One under another sales contact's reseller would hand its domains to that
    reseller's login; creating a client there plants data in a foreign tree."""
    login(client, relation_editor.username)
    form = {
        "number": "101",
        "name": "Client One",
        "billing_email": "c1@example.com",
        "kind": "client",
        "parent": str(reseller_two.id),
        "sales_contact": str(world.sales_a.id),
        "language": "en",
        "reminders_to_reseller": "y",
    }
    client.post(f"/relations/edit/{world.c1.id}", data=form)
    client.post("/relations/add", data=form | {"number": "777", "name": "Planted"})
    client.post(f"/relations/add?_flt_0_parent={reseller_two.id}", data=form | {"number": "778"})
    session.expire_all()
    assert session.get(Relation, world.c1.id).parent_id == world.r1.id
    planted = session.scalars(select(Relation).where(Relation.number.in_((777, 778)))).all()
    assert all(r.parent_id != reseller_two.id for r in planted)


def test_relation_editor_cannot_give_a_relation_away(client, world, session, relation_editor):
    """Assigning one's relation to another sales contact moves it out of one's own scope."""
    login(client, relation_editor.username)
    client.post(
        f"/relations/edit/{world.c1.id}",
        data={
            "number": "101",
            "name": "Client One",
            "billing_email": "c1@example.com",
            "kind": "client",
            "parent": str(world.r1.id),
            "sales_contact": str(world.sales_b.id),
            "language": "en",
            "reminders_to_reseller": "y",
        },
    )
    session.expire_all()
    assert session.get(Relation, world.c1.id).sales_contact_id == world.sales_a.id


# --- JWTs from the API login -------------------------------------------------------------------


def test_api_token_opens_no_html_screens(client, world):
    response = client.post(
        "/api/v1/security/login",
        json={"username": world.client1_login.username, "password": PASSWORD, "provider": "db"},
    )
    token = (response.get_json() or {}).get("access_token")
    if token is None:
        return
    with client.application.test_client() as fresh:
        headers = {"Authorization": f"Bearer {token}"}
        for url in ("/domains/list/", "/domains/export.csv", "/renewals/"):
            assert fresh.get(url, headers=headers).status_code in DENIED, url


def test_export_link_cannot_be_turned_into_a_script_url(client, world):
    """The list template builds the export link with ``url_for(..., **request.args)``, so URL
    arguments reach url_for's own ``_scheme``/``_external``/``_anchor`` parameters."""
    login(client, world.client1_login.username)
    response = client.get(
        "/domains/list/?_external=1&_scheme=javascript&_anchor=%22%3E%3Cb%3E&x=%0Aalert(1)"
    )
    assert response.status_code == 200
    [link] = re.findall(r'href="([^"]*export\.csv[^"]*)"', body(response))
    assert not link.lower().startswith("javascript"), link
    assert "<b>" not in body(response)


@pytest.mark.parametrize("locale", ["nl", "xx", "..%2F..%2Fetc", "<script>"])
def test_language_switch_is_harmless(client, world, locale):
    login(client, world.client1_login.username)
    client.get("/domains/list/")
    response = client.get(f"/lang/{locale}")
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        target = urlsplit(urljoin("http://localhost/", response.headers["Location"]))
        assert target.netloc == "localhost"
    assert client.get("/domains/list/").status_code == 200


# --- the expiration list (in the url_map; work in progress at the time of writing) -----------


@pytest.fixture
def expirations_route(app):
    if "RenewalsExpirationListView.index" not in app.view_functions:
        pytest.skip("no /expirations/ in this build")


@pytest.mark.parametrize("login_attr", [None, "client1_login", "reseller_login"])
def test_expirations_are_closed_to_customers(client, world, expirations_route, login_attr):
    if login_attr:
        as_user(client, world, login_attr)
    for url in ("/expirations/", "/expirations/export.csv?window=next_3_months"):
        response = client.get(url)
        assert response.status_code in DENIED, (url, response.status_code)
        assert "client-two.com" not in body(response)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?relation=101",
        "?relation=100",
        "?window=expired",
        "?relation=99999999999999999999",
        "?relation=%EF%BC%91%EF%BC%90%EF%BC%91",  # full-width 101
    ],
)
def test_expirations_stay_in_a_sales_contacts_scope(client, world, expirations_route, query):
    login(client, world.sales_b.username)
    for url in (f"/expirations/{query}", f"/expirations/export.csv{query}"):
        response = client.get(url)
        assert response.status_code in (200, 400), (url, response.status_code)
        html = body(response)
        assert "client-one.com" not in html and "reseller-one.com" not in html, url
        assert "Client One" not in html and "Reseller One" not in html, url
