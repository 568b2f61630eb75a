"""The host's config, as FAB's examples keep it: a module named config."""

import os

basedir = os.path.abspath(os.path.dirname(__file__))
SECRET_KEY = "quickhowto-host-secret-key-0123456789"
SQLALCHEMY_DATABASE_URI = os.environ["HOST_DATABASE_URL"]
FAB_API_SWAGGER_UI = False
AUTH_TYPE = 1
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
FAB_CREATE_DB = os.environ.get("HOST_FAB_CREATE_DB", "1") == "1"
ADDON_MANAGERS = (
    ["renewal_reminder.addon.RenewalReminderManager"]
    if os.environ.get("HOST_WITH_ADDON") == "1"
    else []
)
if os.environ.get("HOST_ROLE_SALES"):
    RENEWALS_ROLE_SALES = os.environ["HOST_ROLE_SALES"]
