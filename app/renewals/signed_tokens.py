"""Signed, expiring tokens for the links the product emails: a customer's link to their
renewal page, an invitation to set a password, a password reset.

One serializer rule for all three (itsdangerous, which Flask ships): the app's ``SECRET_KEY``,
a salt per purpose (a token made for one purpose never passes as another), and a maximum age.
A token only proves who made it and when; what it names is checked again by its purpose's
module against the database (the relation's link version, the invitation row, the login's
password hash), which is what makes each of them revocable or single-use.
"""

from __future__ import annotations

import enum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from renewal_reminder import settings


class Purpose(enum.StrEnum):
    customer_link = "customer-link"
    invitation = "invitation"
    password_reset = "password-reset"


class BadToken(Exception):
    """A token that is tampered with, made for another purpose, or malformed."""


class ExpiredToken(BadToken):
    """A genuine token past its maximum age; ``payload`` is what it named (trusted: the
    signature held), so a page can offer a fresh one."""

    def __init__(self, payload: Any) -> None:
        super().__init__("the link has expired")
        self.payload = payload


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.current_secret_key(), salt=f"renewal-reminder.{purpose.value}"
    )


def make_token(purpose: Purpose, payload: Any) -> str:
    """A URL-safe token carrying ``payload`` (small JSON: ids and versions, never secrets)."""
    return _serializer(purpose).dumps(payload)


#: Longer than any token the product makes; anything longer is refused before parsing.
MAX_TOKEN_LENGTH = 512


def read_token(purpose: Purpose, token: str | None, max_age_seconds: int) -> Any:
    """The payload of a genuine token of ``purpose`` not older than ``max_age_seconds``.

    Raises ``ExpiredToken`` (genuine but too old) or ``BadToken`` (anything else)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("no token")
    serializer = _serializer(purpose)
    try:
        return serializer.loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadSignature:
            payload = None
        raise ExpiredToken(payload) from None
    except (BadSignature, UnicodeError, ValueError, TypeError):
        raise BadToken("the token is not valid") from None
