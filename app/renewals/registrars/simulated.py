"""The simulated backend: a registry in the product's database, for demos and tests, with no
network.

It answers like an EPP registry wherever the renewal flow depends on the answer, so the sales
queue and the renewal job can be exercised end to end:

- ``renew`` checks the period (2004), that the name exists (2303), that no status forbids it
  (2304: ``pendingDelete``, ``*RenewProhibited``), curExpDate (2306, except the retry of a
  renewal already done, see ``base``) and the 10-year cap (2306);
- ``delete`` puts the name in its redemption period (``pendingDelete``), after which renewing
  or deactivating answers 2304; ``deactivate`` adds ``clientHold``, ``reactivate`` removes it;
- ``drop`` takes a name out of the registry (purged: every command answers 2303).

The registry is the table ``rr_simulated_registry`` (``models.SimulatedRegistryEntry``), not
process memory: the web app, the scheduler process and CLI commands share it, so a renewal
queued on the web page can be executed by ``flask renewals process`` in another process. A
name the registry has not seen yet is taken from the domains table on first sight (its expiry
date; ``clientHold`` if deactivated, ``pendingDelete`` if deleted), so demo data works without
seeding. The registry commits its changes itself, apart from the caller's transaction, as a
real registry would: a caller that rolls back after a lost answer still finds the change made.

Concurrency is the database's: a change is one conditional UPDATE (``WHERE expiry_date =
:seen AND statuses = :seen``), so two processes renewing one name at once renew it once; the
loser re-reads and answers as a retry would (already done, or 2306).

It can be told to fail:

- for every process, by the setting ``SIMULATED_REGISTRAR_FAIL`` (``FailRule``): ``never``
  (the default), ``always`` (2400 on every command), a result code (``2303``: every command
  answers it), or a name pattern with an optional code (``flaky*.example`` or
  ``*.gone.example:2303``): commands on matching names fail;
- within one process, for tests: ``fail_next`` and ``fail_always`` (also *after* applying the
  change, which is what a lost answer looks like to the caller), and ``delay`` (the time
  between reading and writing) so that concurrent executions overlap. ``history`` lists the
  changes this instance applied.

``REGISTRAR_BACKEND=simulated`` uses ``SHARED``: it reads the registry, and the fail setting,
of the app in context (``engine`` given: that database, for tests without an app).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from renewal_reminder import settings
from renewal_reminder.models.base import utcnow
from renewal_reminder.models.domain import Domain
from renewal_reminder.models.enums import DomainStatus
from renewal_reminder.models.simulated_registry import SimulatedRegistryEntry
from renewal_reminder.renewals.claims import insert_ignoring_duplicates
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

OPERATIONS = ("renew", "delete", "deactivate", "reactivate", "info")
#: The setting (``RENEWALS_SIMULATED_REGISTRAR_FAIL``; env ``SIMULATED_REGISTRAR_FAIL``).
FAIL_SETTING = "SIMULATED_REGISTRAR_FAIL"
REGISTRY = SimulatedRegistryEntry.__table__
#: Core tables, not the ORM classes: the registry also works where no host app has mapped users.
DOMAINS = Domain.__table__

#: Statuses that make the registry refuse an operation with 2304.
_PROHIBITED_BY = {
    "renew": {STATUS_PENDING_DELETE, "clientRenewProhibited", "serverRenewProhibited"},
    "deactivate": {STATUS_PENDING_DELETE, "clientUpdateProhibited", "serverUpdateProhibited"},
    "delete": {"clientDeleteProhibited", "serverDeleteProhibited"},
    "reactivate": {STATUS_PENDING_DELETE, "clientUpdateProhibited", "serverUpdateProhibited"},
}
#: A domain's status here, as the registry shows it on first sight.
_STATUSES_OF = {
    DomainStatus.deactivated: STATUS_CLIENT_HOLD,
    DomainStatus.deleted: STATUS_PENDING_DELETE,
}
#: Read-then-conditional-write attempts before giving up (only concurrent changes to the same
#: name make a write miss; each miss re-reads and re-decides).
_WRITE_ATTEMPTS = 5
#: A dropped name's expiry date when the registry never had it (the column is not null).
_NEVER = dt.date(1970, 1, 1)


# --- the fail setting ------------------------------------------------------------------------


@dataclass(frozen=True)
class FailRule:
    """``SIMULATED_REGISTRAR_FAIL`` parsed: commands on names matching ``pattern`` (a glob,
    case-insensitive) answer ``code``."""

    pattern: str
    code: int

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(_key(name), self.pattern)


@functools.lru_cache(maxsize=32)
def parse_fail_setting(value: object) -> FailRule | None:
    """``never``/empty → None; ``always`` → every name, 2400; ``2303`` → every name, that code;
    ``PATTERN`` or ``PATTERN:CODE`` → the names matching the glob. ``ValueError`` otherwise,
    so that a typo stops start-up instead of silently never failing."""
    text = str(value if value is not None else "").strip()
    if text.lower() in ("", "never"):
        return None
    if text.lower() == "always":
        return FailRule("*", COMMAND_FAILED)
    if ":" in text:
        pattern, _, code_text = text.rpartition(":")
    else:
        pattern, code_text = ("*", text) if text.isdigit() else (text, "")
    code = COMMAND_FAILED
    if code_text:
        if not code_text.isdigit() or not 2000 <= int(code_text) <= 2502:
            raise ValueError(
                f"{FAIL_SETTING} {text!r}: {code_text!r} is no EPP error code (2000-2502)"
            )
        code = int(code_text)
    pattern = pattern.strip().lower()
    if not pattern or any(c.isspace() for c in pattern):
        raise ValueError(
            f"{FAIL_SETTING} {text!r}: use never, always, an EPP error code, or a name "
            "pattern such as *.fail.example (optionally :CODE)"
        )
    return FailRule(pattern, code)


# --- the registry ----------------------------------------------------------------------------


@dataclass
class _Entry:
    expiry: dt.date
    statuses: frozenset[str] = field(default_factory=frozenset)

    @property
    def stored_statuses(self) -> str:
        return _stored(self.statuses)


@dataclass
class _Failure:
    code: int | None
    message: str
    times: int | None  # None: every time
    after_applying: bool


def _key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _stored(statuses) -> str:
    return " ".join(sorted(set(statuses) - {STATUS_OK}))


class SimulatedRegistrar(RegistrarBackend):
    name = "simulated"
    can_execute = True

    def __init__(
        self,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        delay: float = 0.0,
        engine: Engine | None = None,
        fail: str | None = None,
    ):
        """``engine``: the database holding the registry (default: the app in context's).
        ``fail``: a ``SIMULATED_REGISTRAR_FAIL`` value (default: the app in context's)."""
        self._today = today
        self.delay = delay
        self._engine = engine
        self._fail = fail
        self._lock = threading.Lock()  # guards the in-process failures and history
        self._failures: dict[str, _Failure] = {}
        #: Changes this instance applied, oldest first: ("renew", name), ("delete", name), ...
        self.history: list[tuple[str, str]] = []

    # --- setting up the simulation ---------------------------------------------------------

    def register(self, name: str, expiry: dt.date, *statuses: str) -> None:
        """Put ``name`` in the registry (replacing any entry) with ``expiry`` and ``statuses``."""
        self._put(name, expiry, _stored(statuses), registered=True)

    def drop(self, name: str) -> None:
        """Take ``name`` out of the registry (purged): from now on every command answers 2303."""
        with self._session() as session:
            entry = self._read(session, _key(name))
        self._put(name, entry.expiry if entry else _NEVER, "", registered=False)

    def fail_next(
        self,
        operation: str,
        code: int | None = COMMAND_FAILED,
        message: str = "simulated failure",
        *,
        times: int | None = 1,
        after_applying: bool = False,
    ) -> None:
        """Make this instance's next ``times`` calls of ``operation`` raise
        ``RegistrarError(message, code)`` (in this process only: for tests).

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
        """Forget all domains (the whole registry table), failures and history."""
        with self._session() as session, session.begin():
            session.execute(delete(REGISTRY))
        with self._lock:
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
        self._maybe_fail("renew", name, after_applying=False)
        check_years(years)
        target = renewed_expiry(current_expiry, years)
        for _ in range(_WRITE_ATTEMPTS):
            entry = self._allowed("renew", name)
            if entry.expiry == target:
                result = RenewResult(name, target, already_done=True)
                break
            if entry.expiry != current_expiry:
                raise RegistrarError(
                    f"curExpDate {current_expiry} does not match {entry.expiry}",
                    VALUE_POLICY_ERROR,
                )
            check_term_cap(target, self._today())
            if self._write(name, entry, expiry_date=target):
                self._applied("renew", name)
                result = RenewResult(name, target)
                break
        else:
            raise self._busy(name)
        self._maybe_fail("renew", name, after_applying=True)
        return result

    def delete(self, name: str) -> None:
        self._maybe_fail("delete", name, after_applying=False)
        for _ in range(_WRITE_ATTEMPTS):
            entry = self._find(name)
            if STATUS_PENDING_DELETE in entry.statuses:
                break
            self._check_allowed("delete", name, entry)
            if self._write(name, entry, statuses=_stored(entry.statuses | {STATUS_PENDING_DELETE})):
                self._applied("delete", name)
                break
        else:
            raise self._busy(name)
        self._maybe_fail("delete", name, after_applying=True)

    def deactivate(self, name: str) -> None:
        self._maybe_fail("deactivate", name, after_applying=False)
        for _ in range(_WRITE_ATTEMPTS):
            entry = self._allowed("deactivate", name)
            if STATUS_CLIENT_HOLD in entry.statuses:
                break
            if self._write(name, entry, statuses=_stored(entry.statuses | {STATUS_CLIENT_HOLD})):
                self._applied("deactivate", name)
                break
        else:
            raise self._busy(name)
        self._maybe_fail("deactivate", name, after_applying=True)

    def reactivate(self, name: str) -> None:
        self._maybe_fail("reactivate", name, after_applying=False)
        for _ in range(_WRITE_ATTEMPTS):
            entry = self._find(name)
            if STATUS_CLIENT_HOLD not in entry.statuses:
                break
            self._check_allowed("reactivate", name, entry)
            if self._write(name, entry, statuses=_stored(entry.statuses - {STATUS_CLIENT_HOLD})):
                self._applied("reactivate", name)
                break
        else:
            raise self._busy(name)
        self._maybe_fail("reactivate", name, after_applying=True)

    def info(self, name: str) -> DomainInfo:
        self._maybe_fail("info", name, after_applying=False)
        entry = self._find(name)
        return DomainInfo(_key(name), entry.expiry, entry.statuses or frozenset({STATUS_OK}))

    # --- the table -----------------------------------------------------------------------------

    def _session(self) -> Session:
        """A session of its own on the registry's database: the registry commits apart from
        the caller's transaction."""
        engine = self._engine
        if engine is None:
            if not has_app_context():
                raise RuntimeError("the simulated registry needs an app context (or an engine)")
            engine = current_app.extensions["appbuilder"].session.get_bind()
        return Session(engine)

    def _read(self, session: Session, key: str) -> _Entry | None:
        """The registry's entry for ``key``, seen for the first time from the domains table;
        None when the registry does not have the name."""
        row = session.execute(
            select(REGISTRY.c.expiry_date, REGISTRY.c.statuses, REGISTRY.c.registered).where(
                REGISTRY.c.name == key
            )
        ).first()
        if row is None:
            row = self._first_sight(session, key)
        if row is None or not row.registered:
            return None
        return _Entry(row.expiry_date, frozenset(row.statuses.split()))

    def _first_sight(self, session: Session, key: str):
        domain = session.execute(
            select(DOMAINS.c.expiry_date, DOMAINS.c.status).where(DOMAINS.c.name == key)
        ).first()
        if domain is None:
            return None
        entry = {
            "name": key,
            "expiry_date": domain.expiry_date,
            "statuses": _STATUSES_OF.get(domain.status, ""),
            "registered": True,
            "updated_at": utcnow(),
        }
        # Two processes seeing the name first at once: one row, and both read it back.
        insert_ignoring_duplicates(session, REGISTRY, [entry], ["name"])
        session.commit()
        return session.execute(
            select(REGISTRY.c.expiry_date, REGISTRY.c.statuses, REGISTRY.c.registered).where(
                REGISTRY.c.name == key
            )
        ).first()

    def _find(self, name: str) -> _Entry:
        with self._session() as session:
            entry = self._read(session, _key(name))
        if entry is None:
            raise RegistrarError(f"{name} is not in the registry", OBJECT_DOES_NOT_EXIST)
        return entry

    def _allowed(self, operation: str, name: str) -> _Entry:
        entry = self._find(name)
        self._check_allowed(operation, name, entry)
        return entry

    @staticmethod
    def _check_allowed(operation: str, name: str, entry: _Entry) -> None:
        blocking = sorted(entry.statuses & _PROHIBITED_BY[operation])
        if blocking:
            raise RegistrarError(
                f"{name} has status {', '.join(blocking)}: cannot {operation}",
                STATUS_PROHIBITS_OPERATION,
            )

    def _write(self, name: str, seen: _Entry, **values) -> bool:
        """Change the entry only if it is still as ``seen`` (one conditional UPDATE); False if
        another process or thread changed it first."""
        if self.delay:
            time.sleep(self.delay)  # widen the window in which a concurrent change can win
        with self._session() as session, session.begin():
            result = session.execute(
                update(REGISTRY)
                .where(
                    REGISTRY.c.name == _key(name),
                    REGISTRY.c.registered.is_(True),
                    REGISTRY.c.expiry_date == seen.expiry,
                    REGISTRY.c.statuses == seen.stored_statuses,
                )
                .values(updated_at=utcnow(), **values)
            )
            return result.rowcount == 1

    def _put(self, name: str, expiry: dt.date, statuses: str, *, registered: bool) -> None:
        values = {
            "expiry_date": expiry,
            "statuses": statuses,
            "registered": registered,
            "updated_at": utcnow(),
        }
        key = _key(name)
        with self._session() as session, session.begin():
            changed = session.execute(
                update(REGISTRY).where(REGISTRY.c.name == key).values(**values)
            ).rowcount
            if not changed:
                insert_ignoring_duplicates(session, REGISTRY, [{"name": key, **values}], ["name"])

    # --- failures and history --------------------------------------------------------------

    def _applied(self, operation: str, name: str) -> None:
        with self._lock:
            self.history.append((operation, _key(name)))

    @staticmethod
    def _busy(name: str) -> RegistrarError:
        return RegistrarError(f"{name} kept changing while the command ran", COMMAND_FAILED)

    def _fail_rule(self) -> FailRule | None:
        if self._fail is not None:
            return parse_fail_setting(self._fail)
        if not has_app_context():
            return None
        # One key, not settings.current(): this runs on every command of a 10,000-domain sync.
        default = settings.DEFAULTS[FAIL_SETTING]
        return parse_fail_setting(current_app.config.get(settings.PREFIX + FAIL_SETTING, default))

    def _maybe_fail(self, operation: str, name: str, *, after_applying: bool) -> None:
        if not after_applying:
            rule = self._fail_rule()
            if rule is not None and rule.matches(name):
                raise RegistrarError(f"simulated failure ({FAIL_SETTING})", rule.code)
        with self._lock:
            failure = self._failures.get(operation)
            if failure is None or failure.after_applying != after_applying:
                return
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self._failures[operation]
        raise RegistrarError(failure.message, failure.code)


#: The instance behind ``REGISTRAR_BACKEND=simulated``: its registry is in the database of the
#: app in context, so every process of one deployment shares it.
SHARED = SimulatedRegistrar()
