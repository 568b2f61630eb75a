from flask import current_app
from flask_appbuilder import BaseView, Model, ModelRestApi, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app import appbuilder, db
from app.models import Contact, ContactGroup


class ContactModelView(ModelView):
    datamodel = SQLAInterface(Contact)
    list_columns = ["name", "contact_group"]


class GroupModelView(ModelView):
    datamodel = SQLAInterface(ContactGroup)
    related_views = [ContactModelView]


class ContactApi(ModelRestApi):
    resource_name = "contact"
    datamodel = SQLAInterface(Contact)


class IdentityProviderCallback(BaseView):
    """Stands for SAML's /saml/acs/ or an OAuth form_post: the identity provider POSTs here
    without the app's CSRF token."""

    route_base = "/saml"

    @expose("/acs/", methods=["POST"])
    def acs(self):
        from flask import request

        return "assertion received: " + request.form.get("SAMLResponse", "")


if current_app.config.get("FAB_CREATE_DB", True):
    Model.metadata.create_all(db.engine)  # the host's own tables, as FAB's examples do

appbuilder.add_view(GroupModelView, "List Groups", category="Contacts")
appbuilder.add_view(ContactModelView, "List Contacts", category="Contacts")
appbuilder.add_api(ContactApi)
appbuilder.add_view_no_menu(IdentityProviderCallback)
