"""The simulated backend: an in-memory registry for demos and tests, with no network.

It answers like an EPP registry wherever the renewal flow depends on the answer, so the sales
queue and the renewal job can be exercised end to end:

- ``renew`` checks the period (2004), that the name exists (2303), that no status forbids it
  (2304: ``pendingDelete``, ``*RenewProhibited``), curExpDate (2306, except the retry of a
  renewal already done, see ``base``) and the 10-year cap (2306);
- ``delete`` puts the name in its redemption period (``pendingDelete``), after which renewing
  or deactivating answers 2304; ``deactivate`` adds ``clientHold``;
- it can be told to fail (``fail_next``, ``fail_always``), also *after* applying the change,
  which is what a lost answer (a timeout) looks like to the caller, and to be slow (``delay``)
  so that concurrent executions overlap.

One lock serialises all operations, as a registry serialises commands on one object; the
history of applied changes shows whether a renewal happened once.

``REGISTRAR_BACKEND=simulated`` uses ``SHARED``, one instance per process. It starts empty:
a demo registers its domains with ``register``. Nothing is persisted.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from renewal_reminder.renewals.registrars.base import (
    COMMAND_FAILED,
    OBJECT_DOES_NOT_EXIST,
    STATUS_CLIENT_HOLD,
    STATUS_OK,
    STATUS_PENDING_DELETE,
    STATUS_PROHIBITS_OPERATION,
    VALUE_POLICY_ERROR,
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    RenewResult,
    check_term_cap,
    check_years,
    renewed_expiry,
)

OPERATIONS = ("renew", "delete", "deactivate", "info")

#: Statuses that make the registry refuse an operation with 2304.
_PROHIBITED_BY = {
    "renew": {STATUS_PENDING_DELETE, "clientRenewProhibited", "serverRenewProhibited"},
    "deactivate": {STATUS_PENDING_DELETE, "clientUpdateProhibited", "serverUpdateProhibited"},
    "delete": {"clientDeleteProhibited", "serverDeleteProhibited"},
}


@dataclass
class _Domain:
    expiry: dt.date
    statuses: set[str] = field(default_factory=set)


@dataclass
class _Failure:
    code: int | None
    message: str
    times: int | None  # None: every time
    after_applying: bool


def _key(name: str) -> str:
    return name.strip().rstrip(".").lower()


class SimulatedRegistrar(RegistrarBackend):
    name = "simulated"
    can_execute = True

    def __init__(self, *, today: Callable[[], dt.date] = dt.date.today, delay: float = 0.0):
        self._today = today
        self.delay = delay
        self._lock = threading.RLock()
        self._domains: dict[str, _Domain] = {}
        self._failures: dict[str, _Failure] = {}
        #: Applied changes, oldest first: ("renew", name), ("delete", name), ...
        self.history: list[tuple[str, str]] = []

    # --- setting up the simulation ---------------------------------------------------------

    def register(self, name: str, expiry: dt.date, *statuses: str) -> None:
        """Put ``name`` in the registry (replacing any entry) with ``expiry`` and ``statuses``."""
        with self._lock:
            self._domains[_key(name)] = _Domain(expiry, set(statuses) - {STATUS_OK})

    def fail_next(
        self,
        operation: str,
        code: int | None = COMMAND_FAILED,
        message: str = "simulated failure",
        *,
        times: int | None = 1,
        after_applying: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``RegistrarError(message, code)``.

        With ``after_applying`` the change is made first and the error raised afterwards, like
        an answer lost to a timeout. A later call for the same operation replaces this one.
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: use one of {', '.join(OPERATIONS)}")
        with self._lock:
            self._failures[operation] = _Failure(code, message, times, after_applying)

    def fail_always(
        self, operation: str, code: int | None = COMMAND_FAILED, message: str = "simulated failure"
    ) -> None:
        """Make every call of ``operation`` fail until ``clear_failures``."""
        self.fail_next(operation, code, message, times=None)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        """Forget all domains, failures and history."""
        with self._lock:
            self._domains.clear()
            self._failures.clear()
            self.history.clear()

    # --- the backend -------------------------------------------------------------------------

    def renew(
        self,
        name: str,
        current_expiry: dt.date,
        years: int,
        *,
        new_expiry: dt.date | None = None,
    ) -> RenewResult:
        """Renew as an EPP registry would; ``new_expiry`` is ignored (the registry computes it)."""
        with self._lock:
            self._maybe_fail("renew", after_applying=False)
            check_years(years)
            domain = self._allowed("renew", name)
            target = renewed_expiry(current_expiry, years)
            if domain.expiry == target:
                result = RenewResult(name, target, already_done=True)
            elif domain.expiry != current_expiry:
                raise RegistrarError(
                    f"curExpDate {current_expiry} does not match {domain.expiry}",
                    VALUE_POLICY_ERROR,
                )
            else:
                check_term_cap(target, self._today())
                self._apply("renew", name)
                domain.expiry = target
                result = RenewResult(name, target)
            self._maybe_fail("renew", after_applying=True)
            return result

    def delete(self, name: str) -> None:
        with self._lock:
            self._maybe_fail("delete", after_applying=False)
            if STATUS_PENDING_DELETE not in self._find(name).statuses:
                self._allowed("delete", name).statuses.add(STATUS_PENDING_DELETE)
                self._apply("delete", name)
            self._maybe_fail("delete", after_applying=True)

    def deactivate(self, name: str) -> None:
        with self._lock:
            self._maybe_fail("deactivate", after_applying=False)
            domain = self._allowed("deactivate", name)
            if STATUS_CLIENT_HOLD not in domain.statuses:
                domain.statuses.add(STATUS_CLIENT_HOLD)
                self._apply("deactivate", name)
            self._maybe_fail("deactivate", after_applying=True)

    def info(self, name: str) -> DomainInfo:
        with self._lock:
            self._maybe_fail("info", after_applying=False)
            domain = self._find(name)
            statuses = frozenset(domain.statuses) or frozenset({STATUS_OK})
            return DomainInfo(_key(name), domain.expiry, statuses)

    # --- helpers (called with the lock held) -------------------------------------------------

    def _find(self, name: str) -> _Domain:
        domain = self._domains.get(_key(name))
        if domain is None:
            raise RegistrarError(f"{name} is not in the registry", OBJECT_DOES_NOT_EXIST)
        return domain

    def _allowed(self, operation: str, name: str) -> _Domain:
        domain = self._find(name)
        blocking = sorted(domain.statuses & _PROHIBITED_BY[operation])
        if blocking:
            raise RegistrarError(
                f"{name} has status {', '.join(blocking)}: cannot {operation}",
                STATUS_PROHIBITS_OPERATION,
            )
        return domain

    def _apply(self, operation: str, name: str) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.history.append((operation, _key(name)))

    def _maybe_fail(self, operation: str, *, after_applying: bool) -> None:
        failure = self._failures.get(operation)
        if failure is None or failure.after_applying != after_applying:
            return
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                del self._failures[operation]
        raise RegistrarError(failure.message, failure.code)


#: The instance behind ``REGISTRAR_BACKEND=simulated``: one registry per process.
SHARED = SimulatedRegistrar()
