"""The one password policy of the product, for every path that sets a password: the CLI
(``users create``), FAB's Admin screens (user add, reset password: through
``FAB_PASSWORD_COMPLEXITY_VALIDATOR``), invitations, password resets and "change my password".

Strength is estimated by zxcvbn (Dropbox's estimator, maintained as the ``zxcvbn`` package):
it knows common passwords, names, dictionary words, keyboard patterns, repeats, sequences and
dates, so ``Password2026`` or ``1234512345`` are refused although they are long and mixed,
while a passphrase of unrelated words passes. A password must score at least
``MIN_SCORE`` (3 of 4: "safely unguessable", ~10^8 guesses) and be at least
``MIN_PASSWORD_LENGTH`` characters. What the person is (login name, email address, name) is
given to zxcvbn as ``user_inputs``, so a password made of them counts as easy.

The message of a refusal is zxcvbn's own feedback (what is wrong, how to do better), in the
request's language where a translation exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from renewal_reminder.i18n import gettext as _
from renewal_reminder.renewals.validation import InvalidValue

MIN_PASSWORD_LENGTH = 10
MIN_SCORE = 3
#: zxcvbn's time grows with the length; a longer "password" is no password a person types.
MAX_PASSWORD_LENGTH = 200


class WeakPassword(InvalidValue):
    """The password does not satisfy the policy; the message says why and how to do better."""


def _user_inputs(inputs: Iterable[str | None]) -> list[str]:
    """What the person is, as zxcvbn's user inputs: each value, and the parts of an email
    address and of a name."""
    words: list[str] = []
    for value in inputs:
        if not value:
            continue
        text = str(value).strip().lower()
        words.append(text)
        local, _at, domain = text.partition("@")
        words.extend(part for part in (local, *domain.split(".")) if len(part) > 2)
        words.extend(part for part in text.replace("@", " ").replace(".", " ").split() if part)
    return list(dict.fromkeys(words))


def check_password(password: str | None, user_inputs: Iterable[str | None] = ()) -> str:
    """Return ``password`` if it satisfies the policy; otherwise raise ``WeakPassword``.

    ``user_inputs``: the login name, email address, first and last name of the person whose
    password it is (a password built from them is easy to guess for anyone who knows them)."""
    if not password or not password.strip():
        raise WeakPassword(_("A password is required."))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            _("The password can have at most %(count)d characters.", count=MAX_PASSWORD_LENGTH)
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            _(
                "The password must have at least %(count)d characters; a few unrelated words "
                "make a good one.",
                count=MIN_PASSWORD_LENGTH,
            )
        )
    result = zxcvbn(password, user_inputs=_user_inputs(user_inputs))
    if result["score"] >= MIN_SCORE:
        return password
    feedback = result.get("feedback") or {}
    parts = [_("This password is too easy to guess.")]
    if feedback.get("warning"):
        parts.append(_translated(feedback["warning"]))
    parts.extend(_translated(text) for text in feedback.get("suggestions") or [])
    if len(parts) == 1:
        parts.append(_translated("Add another word or two. Uncommon words are better."))
    raise WeakPassword(" ".join(_sentence(part) for part in parts))


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


#: zxcvbn's feedback texts (English only in the package), in the product's other language.
_FEEDBACK_NL = {
    "Use a few words, avoid common phrases.": "Gebruik een paar woorden, geen bekende zinnen.",
    "No need for symbols, digits, or uppercase letters.": (
        "Symbolen, cijfers of hoofdletters zijn niet nodig."
    ),
    "Add another word or two. Uncommon words are better.": (
        "Voeg er een of twee woorden aan toe. Ongewone woorden zijn beter."
    ),
    "Straight rows of keys are easy to guess.": "Rechte rijen toetsen zijn makkelijk te raden.",
    "Short keyboard patterns are easy to guess.": (
        "Korte toetsenbordpatronen zijn makkelijk te raden."
    ),
    "Use a longer keyboard pattern with more turns.": (
        "Gebruik een langer toetsenbordpatroon met meer bochten."
    ),
    'Repeats like "aaa" are easy to guess.': 'Herhalingen zoals "aaa" zijn makkelijk te raden.',
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        'Herhalingen zoals "abcabcabc" zijn nauwelijks moeilijker te raden dan "abc".'
    ),
    "Avoid repeated words and characters.": "Vermijd herhaalde woorden en tekens.",
    "Sequences like abc or 6543 are easy to guess.": (
        "Reeksen zoals abc of 6543 zijn makkelijk te raden."
    ),
    "Avoid sequences.": "Vermijd reeksen.",
    "Recent years are easy to guess.": "Recente jaartallen zijn makkelijk te raden.",
    "Avoid recent years.": "Vermijd recente jaartallen.",
    "Avoid years that are associated with you.": "Vermijd jaartallen die bij u horen.",
    "Dates are often easy to guess.": "Datums zijn vaak makkelijk te raden.",
    "Avoid dates and years that are associated with you.": (
        "Vermijd datums en jaartallen die bij u horen."
    ),
    "This is a top-10 common password.": "Dit is een van de 10 meest gebruikte wachtwoorden.",
    "This is a top-100 common password.": "Dit is een van de 100 meest gebruikte wachtwoorden.",
    "This is a very common password.": "Dit is een veelgebruikt wachtwoord.",
    "This is similar to a commonly used password.": ("Dit lijkt op een veelgebruikt wachtwoord."),
    "A word by itself is easy to guess.": "Een los woord is makkelijk te raden.",
    "Names and surnames by themselves are easy to guess.": (
        "Namen en achternamen zijn op zichzelf makkelijk te raden."
    ),
    "Common names and surnames are easy to guess.": (
        "Veelvoorkomende namen en achternamen zijn makkelijk te raden."
    ),
    "Capitalization doesn't help very much.": "Hoofdletters helpen niet veel.",
    "All-uppercase is almost as easy to guess as all-lowercase.": (
        "Alleen hoofdletters is bijna even makkelijk te raden als alleen kleine letters."
    ),
    "Reversed words aren't much harder to guess.": (
        "Omgekeerde woorden zijn nauwelijks moeilijker te raden."
    ),
    "Predictable substitutions like '@' instead of 'a' don't help very much.": (
        "Voorspelbare vervangingen zoals '@' in plaats van 'a' helpen niet veel."
    ),
}


def _translated(text: str) -> str:
    """zxcvbn's English feedback, in Dutch when the request is in Dutch."""
    from flask_babel import get_locale

    try:
        locale = get_locale()
    except Exception:  # no request to take a language from
        locale = None
    if locale is not None and locale.language == "nl":
        return _FEEDBACK_NL.get(text.strip(), text)
    return text


def fab_password_validator(password: str) -> None:
    """The policy as FAB's ``FAB_PASSWORD_COMPLEXITY_VALIDATOR`` (FAB's user add and
    reset-password forms, and its user API): FAB passes only the password and turns a
    ``PasswordComplexityValidationError`` into the form field's error."""
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    try:
        check_password(password)
    except WeakPassword as exc:
        raise PasswordComplexityValidationError(str(exc)) from None
