"""The Dutch catalogue is complete and its compiled .mo is the current .po, compiled.

The .mo is compared by its messages, not its bytes: a newer Babel writes a different header
(and may order or pad differently) for the same catalogue, and that must not fail the suite.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "app" / "translations"
DUTCH = TRANSLATIONS / "nl" / "LC_MESSAGES"


def _messages(catalog) -> dict:
    """``{(context, id): translation}`` of every translated message (the header excluded)."""
    return {
        (message.context, message.id if isinstance(message.id, str) else tuple(message.id)): (
            message.string if isinstance(message.string, str) else tuple(message.string)
        )
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def _read_po():
    with open(DUTCH / "messages.po", "rb") as po:
        return read_po(po, locale="nl")


def test_every_message_is_translated_to_dutch():
    untranslated = [m.id for m in _read_po() if m.id and not m.string]
    assert untranslated == []


def test_no_translation_is_left_fuzzy():
    assert [m.id for m in _read_po() if m.id and m.fuzzy] == []


def test_compiled_catalogue_is_up_to_date():
    """Run `pybabel compile -d app/translations` after editing the .po file."""
    compiled = io.BytesIO()
    write_mo(compiled, _read_po())  # compiled now, by whatever Babel is installed
    compiled.seek(0)
    with open(DUTCH / "messages.mo", "rb") as shipped:
        assert _messages(read_mo(shipped)) == _messages(read_mo(compiled))


def test_the_comparison_notices_a_stale_catalogue(tmp_path):
    """The check above can fail: a .po edited after compiling no longer matches its .mo."""
    catalog = _read_po()
    first = next(message for message in catalog if message.id and message.string)
    shipped = _messages(catalog)
    first.string = "iets anders" if isinstance(first.string, str) else ("iets", "anders")
    stale = io.BytesIO()
    write_mo(stale, catalog)
    stale.seek(0)
    assert _messages(read_mo(stale)) != shipped
