"""How stored values read on the list and show pages, in the viewer's language.

FAB prints a column's value as it is (``renewal_confirmed``, ``False``, a timestamp with
microseconds). The product's screens use these formatters instead (``formatters_columns``), so
a Dutch customer reads Dutch; the CSV exports keep the stored values."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable

from renewal_reminder.i18n import gettext as _
from renewal_reminder.i18n import lazy_gettext as _l

#: Every enum value a customer may see, by its stored value.
VALUE_LABELS = {
    "active": _l("active"),
    "renewal_confirmed": _l("renewal confirmed"),
    "renewal_declined": _l("renewal declined"),
    "renewed": _l("renewed"),
    "deactivated": _l("deactivated"),
    "deleted": _l("deleted"),
    "renew": _l("renew"),
    "decline": _l("decline"),
    "selection_page": _l("renewal page"),
    "confirmation_code": _l("activation code"),
    "sales": _l("sales contact"),
    "automatic": _l("automatic"),
    "email_link": _l("emailed link"),
    "queued": _l("queued"),
    "done": _l("done"),
    "failed": _l("failed"),
    "superseded": _l("superseded"),
    "reseller": _l("reseller"),
    "client": _l("client"),
}
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}


def shown(value: object) -> object:
    """One stored value as people read it."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str) and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def language(value: str | None) -> str:
    return LANGUAGE_NAMES.get(value or "", value or "–")


def formatters(columns: Iterable[str]) -> dict[str, Callable[[object], object]]:
    """``formatters_columns`` for these columns."""
    return dict.fromkeys(columns, shown)
