"""A separate, minimal FAB application with a model of its own that enables the addon by
adding one line to ADDON_MANAGERS: proof that the product is a plugin, not the app."""

from flask import Flask
from flask_appbuilder import AppBuilder, Model, ModelView
from flask_appbuilder.models.sqla.base import SQLA
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

db = SQLA()


class Note(Model):
    """The host's own model, unrelated to the product."""

    __tablename__ = "host_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(200), nullable=False)


class NoteView(ModelView):
    route_base = "/notes"
    datamodel = SQLAInterface(Note)
    list_columns = ["text"]
    add_columns = ["text"]


def create_host_app(
    database_uri: str,
    addon: str | None = "renewal_reminder.addon.RenewalReminderManager",
    **config,
) -> Flask:
    """The host app; ``addon=None`` builds it without the product, to compare."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="host-app-secret-key-0123456789",
        SQLALCHEMY_DATABASE_URI=database_uri,
        WTF_CSRF_ENABLED=False,
        FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        ADDON_MANAGERS=[addon] if addon else [],  # the one line that enables the product
    )
    app.config.update(config)
    db.init_app(app)
    with app.app_context():
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        appbuilder.add_view(NoteView, "Notes")
        # The host creates its own table; FAB and the addon created theirs at init.
        Model.metadata.create_all(db.engine, tables=[Note.__table__])
    return app
