"""Renewal Reminder: domain renewal reminders, a renewal selection page and a sales workspace,
as a Flask-AppBuilder addon.

A host application enables it with one line in its config::

    ADDON_MANAGERS = ["renewal_reminder.addon.RenewalReminderManager"]

This folder (``app/`` in the repository) is installed as the package ``renewal_reminder``.
Importing it, or the addon, has no side effects; ``renewal_reminder.standalone`` is the
product's own host application (``python run.py``).
"""
