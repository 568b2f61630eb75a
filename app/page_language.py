"""The language a page is shown in: the viewer's, not their customer account's.

FAB keeps the viewer's choice (its language menu) in ``session["locale"]`` and otherwise
falls back to ``BABEL_DEFAULT_LOCALE``. The standalone app first asks the browser: a visitor
without a choice gets the best match of their ``Accept-Language`` among ``LANGUAGES``. Emails
are another matter: they follow the relation's language (``renewal_reminder.i18n``).

``page_language()`` is what ``<html lang>`` prints (the standalone's copy of FAB's
``appbuilder/init.html``).
"""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import get_locale


def install(app: Flask) -> None:
    app.before_request(_browser_language_unless_chosen)
    app.jinja_env.globals["page_language"] = page_language


def _browser_language_unless_chosen() -> None:
    if "locale" in session or request.endpoint == "static":
        return
    languages = list(current_app.config.get("LANGUAGES") or {})
    best = request.accept_languages.best_match(languages) if languages else None
    if best:
        session["locale"] = best


def page_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"
