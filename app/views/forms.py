"""WTForms validators that wrap ``renewal_reminder.renewals.validation`` for FAB's generated
forms."""

from __future__ import annotations

import datetime as dt
import enum

from flask_appbuilder.fieldwidgets import Select2Widget
from wtforms import SelectField
from wtforms.validators import InputRequired, ValidationError

from renewal_reminder.i18n import SUPPORTED
from renewal_reminder.models import RelationKind
from renewal_reminder.renewals.registrars import MAX_TERM_YEARS, max_renewal_years
from renewal_reminder.renewals.validation import (
    InvalidValue,
    check_expiry_date,
    normalize_domain_name,
    normalize_email,
    parse_years,
)

try:  # WTForms 3.3 deprecates (value, label) tuples as choices; 3.4 drops them
    from wtforms.fields.choices import SelectChoice
except ImportError:  # an older WTForms (a host may pin one) takes only the tuples

    def SelectChoice(value: str, label: str) -> tuple[str, str]:  # noqa: N802
        return (value, label)


def form_error(message: str) -> ValidationError:
    """A form error FAB's form template can show. It passes every error through Jinja's
    ``gettext``, which %-formats it: a ``%`` from the typed value (``'50%off'``) would raise."""
    return ValidationError(message.replace("%", "%%"))


class DomainName:
    """Validates a domain name and replaces the field's data with its stored (punycode) form,
    so FAB's own Unique check that runs next compares like with like."""

    def __call__(self, form, field):
        try:
            field.data = normalize_domain_name(field.data)
        except InvalidValue as exc:
            raise form_error(str(exc)) from None


class ExpiryDate:
    """An expiry date in the accepted range (``validation.check_expiry_date``). A missing or
    unparsable date is left to the field's own checks."""

    def __call__(self, form, field):
        if not isinstance(field.data, dt.date):
            return
        try:
            check_expiry_date(field.data, dt.date.today())
        except InvalidValue as exc:
            raise form_error(str(exc)) from None


class EmailAddress:
    def __call__(self, form, field):
        try:
            field.data = normalize_email(field.data)
        except InvalidValue as exc:
            raise form_error(str(exc)) from None


class Years:
    """1-10 years, and no more than keeps the new expiry within the registry's 10-year cap
    (``registrars.max_renewal_years``) when the form has an expiry date; empty is allowed (the
    column is nullable until a period is chosen)."""

    def __call__(self, form, field):
        if field.data in (None, ""):
            return
        try:
            field.data = parse_years(field.data)
        except InvalidValue as exc:
            raise form_error(str(exc)) from None
        expiry = getattr(getattr(form, "expiry_date", None), "data", None)
        if not isinstance(expiry, dt.date):
            return
        allowed = max_renewal_years(expiry, dt.date.today())
        if field.data > allowed:
            limit = f"at most {allowed} year(s)" if allowed else "no renewal is possible now"
            raise form_error(
                f"{limit} for a domain expiring {expiry.isoformat()}: registries allow at most "
                f"{MAX_TERM_YEARS} years ahead"
            )


class Language:
    """One of the languages the product writes its emails in (``i18n.SUPPORTED``)."""

    def __call__(self, form, field):
        languages = SUPPORTED
        if field.data not in languages:
            raise form_error(f"choose one of: {', '.join(sorted(languages))}")


class ParentIsAllowed:
    """A reseller has no parent reseller; a relation is not its own reseller."""

    def __call__(self, form, field):
        parent = field.data
        if parent is None:
            return
        if getattr(form.kind, "data", None) == RelationKind.reseller:
            raise ValidationError("A reseller cannot have a parent reseller.")
        if getattr(form, "_id", None) is not None and str(parent.id) == str(form._id):
            raise ValidationError("A relation cannot be its own reseller.")


def enum_select(enum_class: type[enum.Enum], label: str, default=None) -> SelectField:
    """A select of an enum's values that answers bad input with "Not a valid choice".

    FAB's own EnumField raises KeyError (a 500) on a value outside the enum.
    """

    def coerce(value):
        try:
            return enum_class(value)
        except ValueError:
            return value  # left as text: the choice check rejects it with a clear message

    return SelectField(
        label,
        choices=[
            SelectChoice(member.value, member.value.replace("_", " ")) for member in enum_class
        ],
        coerce=coerce,
        default=default,
        validators=[InputRequired()],
        widget=Select2Widget(),
    )
