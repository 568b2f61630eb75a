"""Admin: which login acts for which relation (``RelationUser``). Linking an existing login
(Reseller or Client role) to a relation opens that relation's renewal page to it; unlinking
ends every session of that login (``renewals.sessions``: the link's delete event)."""

from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface

from renewal_reminder.models import RelationUser
from renewal_reminder.renewals import access
from renewal_reminder.views.scoping import FilterByAccess, ScopedModelView


class FilterUserHasCustomerRole(BaseFilter):
    """Dropdown of logins: only those with the Reseller or Client role (per host's names)."""

    name = "Has a customer role"
    arg_name = None

    def apply(self, query, _value):
        role_model = self.datamodel.obj.roles.property.mapper.class_
        names = list(access.current_roles().customers)
        return query.filter(self.datamodel.obj.roles.any(role_model.name.in_(names)))


class RenewalsRelationLoginView(ScopedModelView):
    route_base = "/relationlogins"
    datamodel = SQLAInterface(RelationUser)
    base_filters = [["relation_id", FilterByAccess, access.visible_relation_ids]]

    list_title = "Customer logins"
    show_title = "Customer login"
    add_title = "Link a login to a relation"
    edit_title = "Move a login to another relation"
    list_columns = ["user", "relation"]
    show_columns = ["user", "relation"]
    add_columns = ["user", "relation"]
    edit_columns = ["relation"]
    label_columns = {"user": "Login", "relation": "Relation"}
    description_columns = {
        "user": "A login with the Reseller or Client role; it acts for one relation.",
        "relation": "Changing or removing the relation ends every session of the login.",
    }
    add_form_query_rel_fields = {"user": [["id", FilterUserHasCustomerRole, None]]}
    base_order = ("relation_id", "asc")

    def pre_add(self, item):
        super().pre_add(item)
        user = item.user
        if user is None:
            raise ValueError("Choose a login.")
        if not {role.name for role in user.roles} & set(access.current_roles().customers):
            raise ValueError("Only a login with the Reseller or Client role acts for a relation.")
        session = self.datamodel.session
        with session.no_autoflush:
            existing = session.get(RelationUser, user.id)
        if existing is not None:
            raise ValueError(
                f"{user.username} is already linked to {existing.relation}: remove that link "
                "first, or edit it to move the login."
            )
