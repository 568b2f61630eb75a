"""Domain logic: plain modules that views, CLI commands and scheduled jobs all call.

Nothing in this package reads ``flask.request`` or ``flask.g``; functions take a session and
plain values (a user, a relation, a date), so a job can do everything a page does.
"""
