"""A FAB host in the shape of FAB's examples/extendsecurity: its own User model."""

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla.base import SQLA

app = Flask(__name__)
app.config.from_object("config")
db = SQLA()
db.init_app(app)
with app.app_context():
    appbuilder = AppBuilder()
    appbuilder.init_app(app, db.session)
