"""The Dutch catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "app" / "translations"


def test_every_message_is_translated_to_dutch():
    with open(TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale="nl")
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []


def test_compiled_catalogue_is_up_to_date():
    """Run `pybabel compile -d app/translations` after editing the .po file."""
    with open(TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale="nl")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.mo").read_bytes() == compiled.getvalue()
