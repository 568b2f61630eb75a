"""CRUD screens for relations, domains and the renewal-decision history.

Admin sees and edits everything; Sales, Reseller and Client reach the same screens read-only
and see only the rows ``renewal_reminder.renewals.access`` allows them (enforced by
``FilterByAccess``).
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args, get_order_args
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select
from wtforms import BooleanField

from renewal_reminder import settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.i18n import lazy_gettext as _l
from renewal_reminder.models import (
    ConfirmationRequest,
    Domain,
    DomainStatus,
    Relation,
    RelationKind,
    RenewalDecision,
)
from renewal_reminder.renewals import access, codes, customer_links, lifecycle, mailer, processing
from renewal_reminder.session import current_mail, current_registrar
from renewal_reminder.views import display
from renewal_reminder.views.base import send_receipts
from renewal_reminder.views.csv_export import csv_of_loaded, csv_response
from renewal_reminder.views.forms import (
    DomainName,
    EmailAddress,
    ExpiryDate,
    Language,
    ParentIsAllowed,
    Years,
    enum_select,
)
from renewal_reminder.views.large_lists import LargeListInterface
from renewal_reminder.views.params import positive_int
from renewal_reminder.views.scoping import (
    FilterByAccess,
    FilterByAccessResolvedFirst,
    FilterUserHasRole,
    ScopedModelView,
    use_text_filters,
)

CSV_PAGE_SIZE = 1000


def _sales_contacts_matching(value: str):
    user_model = Relation.sales_contact.property.mapper.class_
    pattern = f"%{value}%"
    return select(user_model.id).where(
        or_(
            user_model.username.ilike(pattern),
            user_model.email.ilike(pattern),
            user_model.first_name.ilike(pattern),
            user_model.last_name.ilike(pattern),
        )
    )


class FilterSalesContact(BaseFilter):
    """Relations (or domains) whose sales contact's login, email or name contains the text."""

    name = "Sales contact contains"
    arg_name = "sc"

    def apply(self, query, value):
        if not value:
            return query
        relations = select(Relation.id).where(
            Relation.sales_contact_id.in_(_sales_contacts_matching(value))
        )
        column = Relation.id if self.model is Relation else self.model.relation_id
        return query.filter(column.in_(relations))


class FilterRelationText(BaseFilter):
    """Domains whose relation's number is, or name contains, the text.

    A text filter instead of FAB's relation dropdown, which would list every relation (all
    100,000 of them, and other customers' names)."""

    name = "Relation number or name"
    arg_name = "rel"

    def apply(self, query, value):
        value = (value or "").strip().lstrip("#")
        if not value:
            return query
        condition = Relation.name.ilike(f"%{value}%")
        number = positive_int(value)
        if number is not None:
            condition = or_(condition, Relation.number == number)
        return query.filter(self.model.relation_id.in_(select(Relation.id).where(condition)))


def _list_arguments() -> dict[str, list[str]]:
    """The list's search filters and ordering from the query string, and nothing else (the
    export link must not carry arbitrary arguments into ``url_for``)."""
    return {
        name: request.args.getlist(name)
        for name in request.args
        if name.startswith(("_flt_", "_oc_", "_od_"))
    }


class FilterHiddenFromCustomers(BaseFilter):
    """Deleted domains keep their history for staff; customers no longer see them."""

    name = "Hidden from customers"
    arg_name = None

    def apply(self, query, status):
        if access.is_staff(g.user):
            return query
        return query.filter(Domain.status != status)


def _started_clean(changed: lifecycle.HolderChange) -> str:
    return (
        f"Started clean for the new recipient: {changed.codes_revoked} open activation code(s) "
        f"revoked, {changed.decisions_superseded} open decision(s) superseded."
    )


class RenewalsRelationView(ScopedModelView):
    route_base = "/relations"
    datamodel = SQLAInterface(Relation)
    base_filters = [["id", FilterByAccess, access.visible_relation_ids]]
    # Relations are created and edited by Admin only (see roles); no row can be "moved".
    relation_attribute = None

    list_title = _l("Relations")
    show_title = _l("Relation")
    add_title = _l("Add relation")
    edit_title = _l("Edit relation")
    list_columns = ["number", "name", "billing_email", "kind", "parent", "sales_contact"]
    show_columns = [
        "number",
        "name",
        "billing_email",
        "kind",
        "parent",
        "sales_contact",
        "language",
        "reminders_to_reseller",
        "created_at",
        "updated_at",
    ]
    add_columns = [
        "number",
        "name",
        "billing_email",
        "kind",
        "parent",
        "sales_contact",
        "language",
        "reminders_to_reseller",
    ]
    edit_columns = add_columns
    search_columns = ["number", "name", "billing_email", "kind", "parent", "sales_contact_id"]
    order_columns = ["number", "name", "billing_email", "kind"]
    base_order = ("number", "asc")
    # Customers read these pages too: every label is translated (FAB's own would not be).
    label_columns = {
        "number": _l("Number"),
        "name": _l("Name"),
        "billing_email": _l("Billing email"),
        "kind": _l("Kind"),
        "parent": _l("Reseller"),
        "sales_contact": _l("Sales contact"),
        "sales_contact_id": _l("Sales contact"),
        "language": _l("Language"),
        "reminders_to_reseller": _l("Reminders go to the reseller"),
        "created_at": _l("Created"),
        "updated_at": _l("Updated"),
    }
    formatters_columns = {
        **display.formatters(["kind", "reminders_to_reseller", "created_at", "updated_at"]),
        "language": display.language,
    }
    description_columns = {
        "reminders_to_reseller": "When the relation has a reseller, customer emails go to the "
        "reseller instead of this relation.",
        "language": "Language of the emails: en or nl.",
    }
    validators_columns = {
        "billing_email": [EmailAddress()],
        "language": [Language()],
        "parent": [ParentIsAllowed()],
    }
    add_form_extra_fields = {
        "kind": enum_select(RelationKind, "Kind", RelationKind.client),
        # FAB makes a non-nullable boolean "required", so unticking it could never be saved.
        "reminders_to_reseller": BooleanField("Reminders go to the reseller", default=True),
    }
    edit_form_extra_fields = add_form_extra_fields
    add_form_query_rel_fields = {
        "parent": [
            ["kind", FilterEqual, RelationKind.reseller],
            ["id", FilterByAccess, access.visible_relation_ids],
        ],
        "sales_contact": [["roles", FilterUserHasRole, lambda: access.current_roles().sales]],
    }
    edit_form_query_rel_fields = add_form_query_rel_fields
    # Dropdowns in the search form list only what the user may see.
    search_form_query_rel_fields = {
        "parent": [["id", FilterByAccess, access.visible_relation_ids]],
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        use_text_filters(self, "sales_contact_id", [FilterSalesContact])

    def pre_add(self, item):
        self._check_hierarchy(item)
        self._check_scope(item)

    def pre_update(self, item):
        """A new address or reseller routing: its domains' customer emails go elsewhere, and
        what was started with the old recipient (codes, open decisions) starts over, in the
        same transaction as the edit (FAB commits both)."""
        session = self.datamodel.session
        # Where its domains' customer emails go now (the form's changes are not yet written).
        with session.no_autoflush:
            before = lifecycle.customer_emails(session, [item.id])
        self._check_hierarchy(item)
        self._check_scope(item)
        item._rr_started_clean = lifecycle.recipients_changed(
            session, before, f"relation #{item.number} was edited: its customer emails go elsewhere"
        )

    def post_update(self, item):
        changed = getattr(item, "_rr_started_clean", None)
        if changed is not None and (changed.codes_revoked or changed.decisions_superseded):
            flash(_started_clean(changed), "info")

    def _check_scope(self, item: Relation) -> None:
        """Whoever may add or edit relations without being Admin (a role an Admin grants) stays
        inside their own relations: no parent, and no result, outside them."""
        if access.is_admin(g.user):
            return
        session = self.datamodel.session
        contact = sa_inspect(item).attrs.sales_contact.history
        if (
            contact.has_changes()
            and item.sales_contact is not None
            and (item.sales_contact.id != g.user.id)
        ):
            session.rollback()
            raise access.AccessDenied("Only an Admin can give a relation to another sales contact.")
        session.flush()  # check the relation as it would be saved (parent, sales contact)
        if not access.can_access_relation(session, g.user, item.id):
            session.rollback()
            raise access.AccessDenied("You cannot place this relation outside your relations.")

    @action(
        "revoke_customer_links",
        "Revoke customer links",
        "Revoke the personal links in every email sent so far to the selected relations? "
        "Whoever uses an old link (or has one open) is asked to request a new one; the next "
        "emails carry new links.",
        "fa-chain-broken",
    )
    def revoke_customer_links(self, relations):
        """Rotate the relations' link versions (``customer_links.rotate``): a forwarded or
        leaked email no longer opens the renewal page. Only relations the user may see."""
        session = self.datamodel.session
        if not isinstance(relations, list):
            relations = [relations]
        mine = [r for r in relations if access.can_access_relation(session, g.user, r.id)]
        for relation in mine:
            customer_links.rotate(session, relation)
        session.commit()
        if mine:
            flash(
                "Customer links revoked for "
                + ", ".join(str(relation) for relation in mine)
                + ": earlier emails' links no longer work.",
                "success",
            )
        return redirect(self.get_redirect())

    @action(
        "invite_to_set_password",
        "Invite to set a password",
        "Email each selected relation's billing address an invitation to set a password for a "
        "login linked to it (valid 7 days)? An earlier invitation that is still open stops "
        "working.",
        "fa-user-plus",
    )
    def invite_to_set_password(self, relations):
        """Rows arrive already checked against the user's scope (ScopedModelView); the
        invitations go out now, each exactly once (``renewals.invitations``)."""
        from renewal_reminder.renewals import invitations

        if not isinstance(relations, list):
            relations = [relations]
        session = self.datamodel.session
        ids = [r.id for r in relations if access.can_access_relation(session, g.user, r.id)]
        summary = invitations.invite(
            session,
            current_mail(),
            mailer.MailSettings.from_config(settings.current()),
            ids,
            reinvite=True,
            invited_by_id=g.user.id,
        )
        if summary.sent:
            flash(f"Invitations sent: {summary.sent}.", "success")
        for problem in summary.problems:
            flash(f"Invitation not sent: {problem}", "danger")
        return redirect(self.get_redirect())

    @staticmethod
    def _check_hierarchy(item: Relation) -> None:
        if item.parent is not None:
            if item.kind is RelationKind.reseller:
                raise ValueError("A reseller cannot have a parent reseller.")
            if item.parent is item or (item.id is not None and item.parent.id == item.id):
                raise ValueError("A relation cannot be its own reseller.")


class RenewalsDomainView(ScopedModelView):
    route_base = "/domains"
    # A million rows: pages read in (expiry date, name) order from ix_rr_domain_expiry_name,
    # each row's relation in the same statement (views.large_lists).
    datamodel = LargeListInterface(Domain, eager=["relation"], tie_breakers={"expiry_date": "name"})
    base_filters = [
        ["relation_id", FilterByAccessResolvedFirst, access.visible_relation_ids],
        ["status", FilterHiddenFromCustomers, DomainStatus.deleted],
    ]

    list_title = _l("Domains")
    show_title = _l("Domain")
    add_title = _l("Add domain")
    edit_title = _l("Edit domain")
    list_columns = [
        "unicode_name",
        "relation",
        "expiry_date",
        "days_until_expiry",
        "status",
        "renewal_years",
    ]
    show_columns = [
        "unicode_name",
        "name",
        "relation",
        "expiry_date",
        "days_until_expiry",
        "status",
        "renewal_years",
        "notes",
        "created_at",
        "updated_at",
    ]
    add_columns = ["name", "relation", "expiry_date", "status", "renewal_years", "notes"]
    edit_columns = add_columns
    search_columns = ["name", "relation_id", "status", "expiry_date", "renewal_years"]
    order_columns = ["name", "expiry_date", "status", "renewal_years"]
    base_order = ("expiry_date", "asc")
    label_columns = {
        "unicode_name": _l("Domain"),
        "name": _l("Domain (ASCII)"),
        "relation": _l("Relation"),
        "relation_id": _l("Relation"),
        "expiry_date": _l("Expiry date"),
        "days_until_expiry": _l("Days left"),
        "status": _l("Status"),
        "renewal_years": _l("Renewal period (years)"),
        "notes": _l("Notes"),
        "created_at": _l("Created"),
        "updated_at": _l("Updated"),
    }
    description_columns = {
        "name": "Unicode names are accepted and stored in their ASCII (punycode) form.",
        "renewal_years": (
            "1 to 10, and at most 10 years ahead from today (so at most 9 for a domain not "
            "yet expired); empty until a period is chosen."
        ),
        "expiry_date": "From 1985-01-01 to 11 years from today.",
    }
    list_template = "rr/domain_list.html"
    formatters_columns = {
        **display.formatters(["status", "created_at", "updated_at"]),
        "renewal_years": lambda years: years or "–",
    }
    validators_columns = {
        "name": [DomainName()],
        "expiry_date": [ExpiryDate()],
        "renewal_years": [Years()],
    }
    add_form_extra_fields = {"status": enum_select(DomainStatus, "Status", DomainStatus.active)}
    edit_form_extra_fields = add_form_extra_fields
    add_form_query_rel_fields = {"relation": [["id", FilterByAccess, access.visible_relation_ids]]}
    edit_form_query_rel_fields = add_form_query_rel_fields

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        use_text_filters(self, "relation_id", [FilterRelationText, FilterSalesContact])

    def pre_update(self, item):
        """Moved to another relation: the new holder starts clean, in the same transaction as
        the move (FAB commits both). The form has set ``relation``; ``relation_id`` still
        names the old holder until the flush."""
        super().pre_update(item)
        item._rr_started_clean = None
        if item.relation is not None and item.relation.id != item.relation_id:
            item._rr_started_clean = lifecycle.holder_changed(
                self.datamodel.session,
                [item.id],
                f"the domain was moved to relation #{item.relation.number}",
            )

    def post_update(self, item):
        changed = getattr(item, "_rr_started_clean", None)
        if changed is not None and (changed.codes_revoked or changed.decisions_superseded):
            flash(_started_clean(changed), "info")

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs["export_url"] = url_for("RenewalsDomainView.export_csv", **_list_arguments())
            kwargs["export_label"] = _("Export CSV")
        return super().render_template(template, **kwargs)

    #: The reseller's internal remarks about a customer's domain.
    staff_only_columns = ("notes",)

    @expose("/export.csv")
    @has_access
    def export_csv(self):
        """The whole list as CSV, with the list's search filters and the same row scope."""
        get_filter_args(self._filters, disallow_if_not_in_search=True)
        filters = self._filters.get_joined_filters(self._base_filters)
        order_column, order_direction = get_order_args().get(self.__class__.__name__, ("", ""))
        if order_column not in self.order_columns:
            order_column, order_direction = self.base_order
        datamodel = self.datamodel

        def pages():
            page = 0
            while True:
                _, items = datamodel.query(
                    filters,
                    order_column,
                    order_direction,
                    page=page,
                    page_size=CSV_PAGE_SIZE,
                    with_count=False,
                )
                yield items
                if len(items) < CSV_PAGE_SIZE:
                    return
                page += 1

        return csv_response(pages())

    @action(
        "send_confirmation_request",
        "Send renewal confirmation request",
        "Email a new activation code to the holder of each selected domain? "
        "Earlier codes for these domains stop working.",
        "fa-envelope",
    )
    def send_confirmation_request(self, domains):
        """Rows arrive already checked against the user's scope (ScopedModelView)."""
        if not isinstance(domains, list):
            domains = [domains]
        outcomes = [
            codes.send_confirmation_request(
                self.datamodel.session,
                current_mail(),
                mailer.MailSettings.from_config(settings.current()),
                codes.CodeSettings.from_config(settings.current()),
                domain,
                sent_by_id=g.user.id,
            )
            for domain in domains
        ]
        sent = [o for o in outcomes if o.ok]
        if sent:
            flash(
                "Confirmation request sent for "
                + ", ".join(f"{o.domain.unicode_name} (to {o.sent_to})" for o in sent)
                + ".",
                "success",
            )
        for outcome in outcomes:
            if not outcome.ok:
                flash(f"Not sent for {outcome.domain.unicode_name}: {outcome.error}", "danger")
        return redirect(self.get_redirect())

    @action(
        "deactivate_domain",
        "Deactivate",
        "Deactivate the selected domains at the registrar? They leave the renewal cycle.",
        "fa-pause",
    )
    def deactivate_domain(self, domains):
        return self._remove(domains, processing.DeclineAction.deactivate)

    @action(
        "delete_domain",
        "Delete",
        "Delete the selected domains at the registrar? This cannot be undone here; their "
        "history is kept.",
        "fa-trash",
    )
    def delete_domain(self, domains):
        return self._remove(domains, processing.DeclineAction.delete)

    def _remove(self, domains, action: processing.DeclineAction):
        """Rows arrive already checked against the user's scope (ScopedModelView)."""
        if not isinstance(domains, list):
            domains = [domains]
        keys = []
        registrar = current_registrar()
        with registrar.session():  # one registry login for the selection (EPP)
            for domain in domains:
                try:
                    outcome = processing.remove_domain(
                        self.datamodel.session,
                        registrar,
                        domain,
                        action,
                        processed_by_id=g.user.id,
                    )
                except processing.NotExecutable as exc:
                    flash(str(exc), "warning")
                    continue
                keys.extend(outcome.receipts)
                flash(str(outcome), "success" if outcome.ok else "danger")
        send_receipts(self.datamodel.session, keys)
        return redirect(self.get_redirect())

    @action(
        "export_selected",
        _l("Export selected to CSV"),
        icon="fa-download",
        single=False,
    )
    def export_selected(self, domains):
        """Rows arrive already checked against the user's scope (ScopedModelView.action_post)."""
        if not isinstance(domains, list):
            domains = [domains]
        return csv_of_loaded(domains)


class FilterEarlierHolders(BaseFilter):
    """A domain's new holder does not see the decisions made before it moved to them (who
    decided, from where); staff see the whole history."""

    name = "Hidden from later holders"
    arg_name = None

    def apply(self, query, _value):
        if access.is_staff(g.user):
            return query
        return query.filter(lifecycle.visible_to_current_holder())


class RenewalsDecisionView(ScopedModelView):
    """The decision history: read-only for everyone, Admin included (it is append-only)."""

    route_base = "/decisions"
    datamodel = SQLAInterface(RenewalDecision)
    base_filters = [
        ["domain_id", FilterByAccess, access.visible_domain_ids],
        ["message", FilterEarlierHolders, None],
    ]
    base_permissions = ["can_list", "can_show"]
    relation_attribute = None

    list_title = _l("Renewal decisions")
    show_title = _l("Renewal decision")
    list_columns = [
        "domain",
        "decision",
        "years",
        "expiry_date",
        "channel",
        "decided_by_label",
        "decided_at",
        "state",
        "processed_at",
        "attempts",
        "message",
    ]
    show_columns = list_columns + ["next_attempt_at", "remote_addr", "processed_by"]
    #: Who processed a decision, and from which address, is the reseller's business.
    staff_only_columns = ("remote_addr", "processed_by")
    # Customers do not see where staff (or, for a reseller, its clients) decided from.
    formatters_columns = {
        **display.formatters(
            ["decision", "channel", "state", "decided_at", "processed_at", "next_attempt_at"]
        ),
        "remote_addr": lambda address: address if access.is_staff(g.user) else "–",
    }
    # No "domain" dropdown (it would list every domain); a domain's decisions show on its page.
    search_columns = ["decision", "channel", "state", "decided_at", "expiry_date"]
    order_columns = ["decision", "years", "expiry_date", "channel", "decided_at", "state"]
    base_order = ("decided_at", "desc")
    label_columns = {
        "domain": _l("Domain"),
        "decision": _l("Decision"),
        "years": _l("Years"),
        "expiry_date": _l("For expiry date"),
        "channel": _l("Channel"),
        "decided_by_label": _l("Decided by"),
        "decided_at": _l("Decided at"),
        "state": _l("State"),
        "processed_at": _l("Processed at"),
        "attempts": _l("Failed attempts"),
        "message": _l("Message"),
        "next_attempt_at": _l("Next automatic retry (UTC)"),
        "remote_addr": _l("Remote address"),
        "processed_by": _l("Processed by"),
    }


class RenewalsConfirmationRequestView(ScopedModelView):
    """Who sent which confirmation request when, to whom, and what became of its code. The code
    itself is never stored; its hash is never shown or searchable."""

    route_base = "/confirmation-requests"
    datamodel = SQLAInterface(ConfirmationRequest)
    base_filters = [["domain_id", FilterByAccess, access.visible_domain_ids]]
    base_permissions = ["can_list", "can_show"]
    relation_attribute = None

    list_title = "Confirmation requests"
    show_title = "Confirmation request"
    list_columns = ["domain", "created_at", "sent_to", "sent_by_label", "expires_at", "state"]
    show_columns = [*list_columns, "expiry_date", "used_at", "revoked_at", "note"]
    search_columns = ["sent_to", "created_at", "expires_at", "used_at"]
    order_columns = ["created_at", "sent_to", "expires_at"]
    base_order = ("created_at", "desc")
    label_columns = {
        "sent_by_label": "Sent by",
        "created_at": "Sent at (UTC)",
        "expires_at": "Code expires (UTC)",
        "expiry_date": "For expiry date",
        "state": "Code",
    }


# A domain's page lists its decisions and confirmation requests (FAB's related views, still
# scoped by their base filters).
RenewalsDomainView.related_views = [RenewalsDecisionView, RenewalsConfirmationRequestView]
