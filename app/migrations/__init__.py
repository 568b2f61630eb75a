"""The product's Alembic migrations (see ``renewal_reminder.schema``)."""
