"""The product's own translations (Flask-Babel, as FAB uses), independent of the host app.

FAB's Babel instance only knows the host's translation folders, and an addon cannot add its own
before the host starts; a separate Flask-Babel ``Domain`` with the product's catalogue works in
any host. Customer pages render in their relation's language with ``in_language``.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import Domain, force_locale

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
domain = Domain(translation_directories=[str(TRANSLATIONS)], domain="messages")
gettext = domain.gettext
ngettext = domain.ngettext
lazy_gettext = domain.lazy_gettext

#: Languages the product's pages and emails are written in.
SUPPORTED = ("en", "nl")


def in_language(language: str | None):
    """``with in_language("nl"):`` renders FAB's and the product's texts in that language."""
    return force_locale(language if language in SUPPORTED else "en")
