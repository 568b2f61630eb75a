"""The demo outbox (``/demo-outbox/``): the emails the demo sent, for Admin, in demo mode only.

Registered by the standalone app when ``DEMO_MODE`` is on; it reads the folder the demo's SMTP
sink writes (``renewal_reminder.demo_mail``). The HTML part is shown in a sandboxed frame (no
scripts, no same-origin access), as a mail client would."""

from __future__ import annotations

from flask import abort, current_app
from flask_appbuilder import BaseView, expose, has_access

from renewal_reminder import demo_mail
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView


class RenewalsDemoOutboxView(AddonView, BaseView):
    route_base = "/demo-outbox"
    default_view = "index"
    template_folder = TEMPLATE_FOLDER

    @expose("/")
    @has_access
    def index(self):
        emails = demo_mail.newest(current_app.instance_path)
        return self.render_template(
            "rr/demo_outbox.html",
            title="Demo outbox",
            emails=emails,
            folder=demo_mail.outbox_folder(current_app.instance_path),
            page_size=demo_mail.PAGE_SIZE,
        )

    @expose("/<email_id>")
    @has_access
    def show(self, email_id: str):
        message = demo_mail.one(current_app.instance_path, email_id)
        if message is None:
            abort(404)
        return self.render_template(
            "rr/demo_outbox_email.html", title=message.subject, email=message
        )
