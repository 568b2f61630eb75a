"""A readable console for the standalone app: what a person running ``python run.py`` needs to
see, not one line per stylesheet.

- The development server's access log leaves out successful static files (``/static/...``
  with 200 or 304): a page view is one line again instead of 45.
- FAB warns "Invalid redirect detected" whenever its login page has no ``next`` argument,
  which is every ordinary login; the warning stays for a ``next`` that really is refused.
"""

from __future__ import annotations

import logging

from flask import has_request_context, request

_STATIC_OK = (" 200 ", " 304 ")


class QuietStaticFiles(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("/static/" in message and any(code in message for code in _STATIC_OK))


class RealInvalidRedirectsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Invalid redirect detected"):
            return True
        return has_request_context() and bool(request.args.get("next"))


def install() -> None:
    """Idempotent: adds each filter once."""
    for logger_name, filter_class in (
        ("werkzeug", QuietStaticFiles),
        ("flask_appbuilder.utils.base", RealInvalidRedirectsOnly),
    ):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(existing, filter_class) for existing in logger.filters):
            logger.addFilter(filter_class())
