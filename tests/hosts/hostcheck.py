"""Drive one host app (its ``app`` package in the current folder) and print what it does, as
JSON, for ``tests/test_hosts.py`` to compare with and without the addon.

Usage: ``python hostcheck.py SCENARIO`` in a host's folder, with ``HOST_DATABASE_URL`` (a fresh
database) and ``HOST_WITH_ADDON=1`` or unset. Runs in the host's own virtual environment,
where the product is installed from its wheel.
"""

from __future__ import annotations

import json
import re
import sys

PREFIX = "/renewal-reminder"


def _token(html: str) -> str:
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else ""


def _login(client, username: str, password: str) -> int:
    token = _token(client.get("/login/").get_data(as_text=True))
    response = client.post(
        "/login/", data={"username": username, "password": password, "csrf_token": token}
    )
    return response.status_code


def _admin(app) -> None:
    """The host's admin login (and, where the host manages its schema itself, its admin role
    and permission rows, as `flask fab create-permissions` would write them)."""
    with app.app_context():
        appbuilder = app.extensions["appbuilder"]
        sm = appbuilder.sm
        if sm.find_role(sm.auth_role_admin) is None:
            sm.add_role(sm.auth_role_admin)
            appbuilder.add_permissions(update_perms=True)
        if sm.find_user(username="admin") is None:
            role = sm.find_role(sm.auth_role_admin)
            assert sm.add_user(
                "admin", "A", "Admin", "admin@host.example", role, password="admin-password-1"
            )


def quickhowto() -> dict:
    from app import app, db
    from app.models import Contact, ContactGroup

    _admin(app)
    with app.app_context():
        friends = ContactGroup(name="Friends")
        family = ContactGroup(name="Family")
        db.session.add_all([friends, family])
        db.session.flush()
        db.session.add_all(
            [
                Contact(name="Ann", contact_group_id=friends.id),
                Contact(name="Bob", contact_group_id=friends.id),
                Contact(name="Cy", contact_group_id=family.id),
            ]
        )
        db.session.commit()
        ann = db.session.query(Contact).filter_by(name="Ann").one().id
        friends_id = friends.id
    seen: dict = {}
    client = app.test_client()
    seen["login"] = _login(client, "admin", "admin-password-1")
    # A form: add a contact with the form's own token.
    form = client.get("/contactmodelview/add").get_data(as_text=True)
    added = client.post(
        "/contactmodelview/add",
        data={"name": "Dee", "contact_group": str(friends_id), "csrf_token": _token(form)},
    )
    seen["form_add"] = added.status_code
    # The host's GET delete (FAB allows it when the host has no CSRFProtect).
    seen["get_delete"] = client.get(f"/contactmodelview/delete/{ann}").status_code
    # A delete of a row with children.
    seen["delete_with_children"] = client.get(f"/groupmodelview/delete/{friends_id}").status_code
    with app.app_context():
        seen["contacts_left"] = sorted(c.name for c in db.session.query(Contact))
        seen["groups_left"] = sorted(g.name for g in db.session.query(ContactGroup))
    # The REST API.
    api = app.test_client()
    login = api.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": "admin-password-1", "provider": "db"},
    )
    seen["api_login"] = login.status_code
    headers = {"Authorization": f"Bearer {(login.get_json() or {}).get('access_token')}"}
    seen["api_list"] = api.get("/api/v1/contact/", headers=headers).status_code
    created = api.post(
        "/api/v1/contact/", json={"name": "Eve", "contact_group": 2}, headers=headers
    )
    seen["api_create"] = created.status_code
    # An identity provider's POST, without the app's CSRF token.
    callback = app.test_client().post("/saml/acs/", data={"SAMLResponse": "PHNhbWw+"})
    seen["idp_callback"] = [callback.status_code, callback.get_data(as_text=True)]
    seen["extensions"] = sorted(app.extensions)
    return seen


def renewals_screens(app) -> dict:
    """The product's screens as the host's admin sees them."""
    _admin(app)
    client = app.test_client()
    _login(client, "admin", "admin-password-1")
    pages = {}
    for path in ("/relations/list/", "/domains/list/", "/renewals/", "/queue/", "/expirations/"):
        response = client.get(PREFIX + path)
        pages[path] = response.status_code
    listing = client.get(PREFIX + "/domains/list/").get_data(as_text=True)
    pages["menu_links_prefixed"] = f'href="{PREFIX}/renewals/' in listing
    # A form of the product's refuses a POST without a token (its own CSRF check)...
    pages["post_without_token"] = client.post(PREFIX + "/relations/add", data={}).status_code
    # ...and FAB's delete form, as the list page renders it, carries one that works.
    from renewal_reminder.models import Relation

    with app.app_context():
        session = app.extensions["appbuilder"].session
        relation = Relation(number=4711, name="To delete", billing_email="d@host.example")
        session.add(relation)
        session.commit()
        relation_id = relation.id
    listing = client.get(PREFIX + "/relations/list/").get_data(as_text=True)
    # A view with actions gets FAB's action form instead, which its script posts deletes with.
    form = re.search(r'<form id="(?:delete|action)_form".*?</form>', listing, re.S)
    token = _token(form.group(0)) if form else ""
    deleted = client.post(f"{PREFIX}/relations/delete/{relation_id}", data={"csrf_token": token})
    with app.app_context():
        gone = app.extensions["appbuilder"].session.get(Relation, relation_id) is None
    pages["rendered_delete_form"] = [deleted.status_code, gone]
    return pages


def extendsecurity() -> dict:
    from app import app

    seen = renewals_screens(app) if "renewal_reminder" in app.extensions else {}
    with app.app_context():
        sm = app.extensions["appbuilder"].sm
        seen["user_model"] = sm.user_model.__name__
        user = sm.find_user(username="admin")
        user.emp_number = 42
        app.extensions["appbuilder"].session.commit()
        seen["extra_column"] = sm.find_user(username="admin").emp_number
    seen["login"] = _login(app.test_client(), "admin", "admin-password-1")
    return seen


def product() -> dict:
    from app import app

    return renewals_screens(app)


def start() -> dict:
    """Only start the host (for the role-conflict scenario): report how it went."""
    try:
        from app import app  # noqa: F401
    except Exception as exc:  # reported to the test
        return {"started": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"started": True}


def sales_role() -> dict:
    """The host's own "Sales" role, with its permissions, after the addon started."""
    from app import app

    with app.app_context():
        sm = app.extensions["appbuilder"].sm
        role = sm.find_role("Sales")
        return {
            "permissions": sorted(
                f"{pv.permission.name} on {pv.view_menu.name}" for pv in role.permissions
            ),
            "builtin": "Sales" in sm.builtin_roles,
            "product_sales_role": sm.find_role("Renewals Sales") is not None,
        }


def make_sales_role() -> dict:
    """Give the host a database role "Sales" with permissions of its own (before the addon)."""
    from app import app

    with app.app_context():
        sm = app.extensions["appbuilder"].sm
        role = sm.add_role("Sales")
        permission = sm.find_permission_view_menu("can_list", "ContactModelView")
        sm.add_permission_role(role, permission)
        return {"permissions": len(sm.find_role("Sales").permissions)}


if __name__ == "__main__":
    print("HOSTCHECK " + json.dumps(globals()[sys.argv[1]]()))
