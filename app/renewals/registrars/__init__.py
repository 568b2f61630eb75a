"""Registrar backends: where a renewal decision is carried out.

``REGISTRAR_BACKEND`` selects one:

- ``manual`` (the default): the sales contact renews, deactivates or deletes at the registrar
  by hand and confirms it here, entering the new expiry date, which is checked;
- ``simulated``: a registry in the product's database (shared by every process) for demos
  and tests, which can be told to fail (``SIMULATED_REGISTRAR_FAIL``);
- ``epp``: a registry over EPP (module ``epp``), with the ``EPP_*`` settings;
- ``package.module:name``: any other backend, where ``name`` is a ``RegistrarBackend``
  subclass or a factory; it is called with the app config and reads its own settings.

The app calls ``get_backend(app.config)`` at start-up so that a wrong setting stops it at once.

``epp`` (RFC 5730/5731 over TLS, module ``epp``) carries renewals, deletions and holds out at
a registry; its settings are ``EPP_HOST``, ``EPP_PORT``, ``EPP_CLIENT_ID``, ``EPP_PASSWORD``,
``EPP_CERT_FILE``, ``EPP_KEY_FILE``, ``EPP_CA_FILE`` and ``EPP_TIMEOUT``. Jobs wrap a batch in
``with backend.session():`` so that it logs in once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from renewal_reminder.renewals.registrars.base import (
    MAX_TERM_YEARS,
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    RegistrarUnavailable,
    RenewResult,
    max_renewal_years,
    renewed_expiry,
)
from renewal_reminder.renewals.registrars.manual import ManualRegistrar
from renewal_reminder.renewals.registrars.simulated import (
    FAIL_SETTING,
    SHARED,
    SimulatedRegistrar,
    parse_fail_setting,
)

__all__ = [
    "MAX_TERM_YEARS",
    "DomainInfo",
    "InvalidBackend",
    "ManualRegistrar",
    "RegistrarBackend",
    "RegistrarError",
    "RegistrarUnavailable",
    "RenewResult",
    "SimulatedRegistrar",
    "get_backend",
    "max_renewal_years",
    "renewed_expiry",
]

DEFAULT_BACKEND = "manual"


class InvalidBackend(ValueError):
    """REGISTRAR_BACKEND names no usable backend; the message says why."""


def get_backend(config_or_name: Mapping[str, Any] | str | None = None) -> RegistrarBackend:
    """The backend that ``REGISTRAR_BACKEND`` (in a config mapping, or given as is) selects."""
    if isinstance(config_or_name, Mapping):
        config: Mapping[str, Any] = config_or_name
        setting = config.get("REGISTRAR_BACKEND")
    else:
        config, setting = {}, config_or_name
    name = (setting or DEFAULT_BACKEND).strip()
    if name.lower() == "manual":
        return ManualRegistrar()
    if name.lower() == "simulated":
        try:  # read per command (a test or an Admin may change it); checked here at start-up
            parse_fail_setting(config.get(FAIL_SETTING, "never"))
        except ValueError as exc:
            raise InvalidBackend(str(exc)) from None
        return SHARED
    if name.lower() == "epp":
        return _epp_backend(config)
    if ":" in name:
        return _from_dotted_path(name, config)
    raise InvalidBackend(
        f"REGISTRAR_BACKEND {name!r} is unknown: use manual, simulated, epp, "
        "or package.module:Class for another backend"
    )


def _epp_backend(config: Mapping[str, Any]) -> RegistrarBackend:
    """Imported here: only an EPP installation needs the EPP client loaded."""
    from renewal_reminder.renewals.registrars.epp import EppRegistrar

    try:
        return EppRegistrar.from_config(config)
    except ValueError as exc:
        raise InvalidBackend(str(exc)) from None


def _from_dotted_path(path: str, config: Mapping[str, Any]) -> RegistrarBackend:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidBackend(
            f"REGISTRAR_BACKEND {path!r}: cannot import {module_name} ({exc})"
        ) from exc
    factory: Callable[[Mapping[str, Any]], object] | None = getattr(module, attribute, None)
    if not callable(factory):
        raise InvalidBackend(
            f"REGISTRAR_BACKEND {path!r}: {module_name} has no backend class or factory "
            f"{attribute!r}"
        )
    backend = factory(config)
    if not isinstance(backend, RegistrarBackend):
        raise InvalidBackend(
            f"REGISTRAR_BACKEND {path!r} gave a {type(backend).__name__}, not a RegistrarBackend"
        )
    return backend
