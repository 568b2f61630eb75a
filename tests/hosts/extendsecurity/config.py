"""The host's config (FAB's examples/extendsecurity shape)."""

import os

SECRET_KEY = "extendsecurity-host-secret-key-0123456789"
SQLALCHEMY_DATABASE_URI = os.environ["HOST_DATABASE_URL"]
AUTH_TYPE = 1
FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
FAB_SECURITY_MANAGER_CLASS = "app.sec.MySecurityManager"
ADDON_MANAGERS = (
    ["renewal_reminder.addon.RenewalReminderManager"]
    if os.environ.get("HOST_WITH_ADDON") == "1"
    else []
)
