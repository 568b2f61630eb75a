"""A FAB host in the shape of FAB's examples/quickhowto (its package is named ``app``)."""

import logging

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla.base import SQLA

logging.basicConfig(format="%(asctime)s:%(levelname)s:%(name)s:%(message)s")

app = Flask(__name__)
app.config.from_object("config")
db = SQLA()
db.init_app(app)
with app.app_context():
    appbuilder = AppBuilder()
    appbuilder.init_app(app, db.session)
    from app import views  # noqa: E402,F401
