"""The product's roles and what each may do on its screens.

Sales, Reseller and Client (names configurable: ``RENEWALS_ROLE_SALES``, ...) are FAB *builtin*
roles: their permissions live here, in code, checked in memory, and cannot be widened from the
Security screens. The admin role is the host's own (``AUTH_ROLE_ADMIN``) and receives every
permission. None of these roles gets anything on FAB's Security views (users, roles,
permissions): ``can_edit`` on roles would be a privilege escalation. Which *rows* a role sees
is decided separately, by ``renewal_reminder.renewals.access``.

FAB ignores the database permissions of a builtin role, so defining one under the name of a
role the host already uses would silently take that role's permissions away: start-up refuses
instead (``RoleConflict``), and the host picks other names.
"""

from __future__ import annotations

from sqlalchemy import inspect, select

from renewal_reminder.models import ProductRole
from renewal_reminder.renewals.access import RoleNames, current_roles

MENU_CATEGORY = "Renewals"


def _exact(name: str) -> str:
    """FAB matches builtin permissions with ``re.match``: anchor so "RenewalsDomainView" does not
    also grant "DomainViewSomethingElse"."""
    return f"^{name}$"


def _grants(view: str, *permissions: str) -> list[list[str]]:
    return [[_exact(view), _exact(permission)] for permission in permissions]


def menu_name(label: str) -> str:
    """The permission name of a menu item: prefixed, so it cannot clash with a host's own
    "Domains" or "Relations" menu item (the menu shows ``label``)."""
    return f"{MENU_CATEGORY}: {label}"


def _menu(*labels: str) -> list[list[str]]:
    names = (MENU_CATEGORY, *map(menu_name, labels))
    return [[_exact(name), "^menu_access$"] for name in names]  # no regex characters


_READ = ("can_list", "can_show")

#: Every product role has a home page (``views.home``).
_HOME = [*_grants("RenewalsHomeView", "can_view"), *_menu("Home")]

_CUSTOMER = [
    *_HOME,
    *_grants("RenewalsSelectionView", "can_select"),
    *_menu("Renew domains"),
    *_grants("RenewalsRelationView", *_READ),
    *_grants("RenewalsDomainView", *_READ, "can_export_csv", "export_selected"),
    *_grants("RenewalsDecisionView", *_READ),
    *_menu("Relations", "Domains", "Renewal decisions"),
]

_SALES = [
    *_HOME,
    *_grants("RenewalsSelectionView", "can_select"),
    *_menu("Renew domains"),
    *_grants("RenewalsRelationView", *_READ, "revoke_customer_links", "invite_to_set_password"),
    *_grants(
        "RenewalsDomainView",
        *_READ,
        "can_export_csv",
        "export_selected",
        "send_confirmation_request",
        "deactivate_domain",
        "delete_domain",
    ),
    *_grants("RenewalsConfirmationRequestView", *_READ),
    *_menu("Confirmation requests"),
    *_grants("RenewalsExpirationListView", "can_view"),
    *_menu("Expiration list"),
    *_grants("RenewalsQueueView", "can_process"),
    *_menu("Renewal queue"),
    *_grants("RenewalsDecisionView", *_READ),
    *_menu("Relations", "Domains", "Renewal decisions"),
]


def builtin_roles(names: RoleNames) -> dict[str, list[list[str]]]:
    """The product's roles under their names in this host, with their permissions."""
    return {names.sales: _SALES, names.reseller: _CUSTOMER, names.client: list(_CUSTOMER)}


class RoleConflict(RuntimeError):
    """A role of the product's would take over a host role of the same name."""


def check_role_conflicts(security_manager, names: RoleNames) -> None:
    """Refuse a product role name that the host already uses for a role of its own: a role
    with permissions in the database that the product did not create, or one the host
    defines as builtin itself."""
    ours = builtin_roles(names)
    for name, permissions in ours.items():
        defined = security_manager.builtin_roles.get(name)
        if defined is not None and defined != permissions:
            raise RoleConflict(_conflict(name, "is defined by the host's FAB_ROLES"))
    role_model = security_manager.role_model
    rows = (
        security_manager.session.execute(select(role_model).where(role_model.name.in_(list(ours))))
        .scalars()
        .unique()  # a host's role model may load its permissions eagerly (Airflow does)
    )
    owned = _owned_roles(security_manager.session) or set()
    for role in rows:
        if role.permissions and role.name not in owned:
            raise RoleConflict(
                _conflict(role.name, f"already exists with {len(role.permissions)} permissions")
            )


def _conflict(name: str, what: str) -> str:
    return (
        f"the role {name!r} {what}; Renewal Reminder would replace its permissions. Give the "
        "product's roles other names (RENEWALS_ROLE_SALES, RENEWALS_ROLE_RESELLER, "
        "RENEWALS_ROLE_CLIENT) or rename the host's role."
    )


def ensure_roles(security_manager, names: RoleNames | None = None) -> None:
    """Create the product's role rows (names only; builtin permissions live in code), and
    remember them as the product's. Idempotent. The host's own roles (admin, public) are the
    host's business: see ``ensure_host_roles``.

    FAB's own ``create_db`` creates builtin roles too, but it runs before addons load and not
    at all when the host sets ``FAB_CREATE_DB = False``.
    """
    names = names or current_roles()
    session = security_manager.session
    owned = _owned_roles(session)
    for name in names.product:
        role = security_manager.find_role(name)
        if role is None:
            security_manager.add_role(name)
        if owned is not None and name not in owned and (role is None or not role.permissions):
            session.add(ProductRole(name=name))  # created now, or claimed while empty
    session.commit()


def ensure_host_roles(security_manager) -> None:
    """The standalone app's own admin and public roles (it is their host)."""
    for name in (security_manager.auth_role_admin, security_manager.auth_role_public):
        if name and security_manager.find_role(name) is None:
            security_manager.add_role(name)


def _owned_roles(session) -> set[str] | None:
    """The roles the product created; None before its tables exist."""
    if not inspect(session.get_bind()).has_table(ProductRole.__tablename__):
        return None
    return set(session.scalars(select(ProductRole.name)))
