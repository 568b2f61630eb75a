"""Extension objects of the standalone application.

A host application that enables the addon brings its own ``db`` and ``appbuilder``; product
code therefore reaches the session through ``renewal_reminder.session.current_session()``,
never through ``db`` here. There is no module-level AppBuilder: it keeps its registered views
in the instance, so each app (each test) needs a new one (``create_app`` makes it).
"""

from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate

db = SQLA()
migrate = Migrate()
