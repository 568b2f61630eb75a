"""The product's roles and what each may do on its screens.

Sales, Reseller and Client are FAB *builtin* roles: their permissions live here, in code,
checked in memory, and cannot be widened from the Security screens. Admin is FAB's own
``AUTH_ROLE_ADMIN`` and receives every permission. None of these roles gets anything on FAB's
Security views (users, roles, permissions): ``can_edit`` on roles would be a privilege escalation.
Which *rows* a role sees is decided separately, by ``renewal_reminder.renewals.access``.
"""

from __future__ import annotations

from renewal_reminder.renewals.access import ROLE_CLIENT, ROLE_RESELLER, ROLE_SALES

MENU_CATEGORY = "Renewals"


def _exact(name: str) -> str:
    """FAB matches builtin permissions with ``re.match``: anchor so "DomainView" does not
    also grant "DomainViewSomethingElse"."""
    return f"^{name}$"


def _grants(view: str, *permissions: str) -> list[list[str]]:
    return [[_exact(view), _exact(permission)] for permission in permissions]


def _menu(*items: str) -> list[list[str]]:
    return [[_exact(item), "^menu_access$"] for item in (MENU_CATEGORY, *items)]


_READ = ("can_list", "can_show")

_CUSTOMER = [
    *_grants("RenewalSelectionView", "can_select"),
    *_menu("Renew domains"),
    *_grants("RelationView", *_READ),
    *_grants("DomainView", *_READ, "can_export_csv", "export_selected"),
    *_grants("RenewalDecisionView", *_READ),
    *_menu("Relations", "Domains", "Renewal decisions"),
]

_SALES = [
    *_grants("RenewalSelectionView", "can_select"),
    *_menu("Renew domains"),
    *_grants("RelationView", *_READ),
    *_grants(
        "DomainView",
        *_READ,
        "can_export_csv",
        "export_selected",
        "send_confirmation_request",
        "deactivate_domain",
        "delete_domain",
    ),
    *_grants("ConfirmationRequestView", *_READ),
    *_menu("Confirmation requests"),
    *_grants("ExpirationListView", "can_view"),
    *_menu("Expiration list"),
    *_grants("RenewalQueueView", "can_process"),
    *_menu("Renewal queue"),
    *_grants("RenewalDecisionView", *_READ),
    *_menu("Relations", "Domains", "Renewal decisions"),
]

BUILTIN_ROLES: dict[str, list[list[str]]] = {
    ROLE_SALES: _SALES,
    ROLE_RESELLER: _CUSTOMER,
    ROLE_CLIENT: list(_CUSTOMER),
}


def ensure_roles(security_manager) -> None:
    """Create the role rows (names only; builtin permissions live in code). Idempotent.

    FAB's own ``create_db`` does this for builtin roles, but it runs before addons load and
    not at all when the host sets ``FAB_CREATE_DB = False``.
    """
    for name in (
        security_manager.auth_role_admin,
        security_manager.auth_role_public,
        *BUILTIN_ROLES,
    ):
        if security_manager.find_role(name) is None:
            security_manager.add_role(name)
