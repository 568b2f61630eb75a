"""The EPP backend: renewals, deletions and holds carried out at a registry over EPP
(RFC 5730 protocol, RFC 5731 domain mapping, RFC 5734 TLS transport).

``REGISTRAR_BACKEND=epp`` with ``EPP_HOST``, ``EPP_PORT`` (700), ``EPP_CLIENT_ID``,
``EPP_PASSWORD``, the TLS client certificate ``EPP_CERT_FILE``/``EPP_KEY_FILE`` that registries
require, ``EPP_CA_FILE`` (the CA of the registry's server certificate; empty: the system's
trust store) and ``EPP_TIMEOUT`` (seconds for connecting and for each answer).

Which EPP library, and why. Two maintained clients on the package index were read:

- ``epptools`` (MIT, no dependencies, typed) builds every frame as an element tree (text is
  escaped, never concatenated), refuses values the RFC schemas refuse before sending (a period
  outside 1-99, a password outside 6-16 characters, an update that changes nothing), checks
  that each answer echoes its command's clTRID, and treats a connection that failed mid-frame
  as dead instead of reading the previous command's answer. It has a CA file, client
  certificate and separate connect/read timeouts, sends ``domain:renew`` with ``curExpDate``
  and ``period unit="y"``, parses ``renData``/``infData`` (``exDate``, statuses) and maps
  result codes to exceptions carrying the code, message and ``<reason>``.
- ``pyepp`` (GPL-3.0, which an addon cannot impose on its hosts) renders frames from Jinja
  templates, loads only the system trust store (no CA file for an OT&E registry's own CA),
  has a fixed 10-second timeout, does not parse ``renData`` and reports login failures as
  generic exceptions. It also pulls in lxml, BeautifulSoup, Jinja and click.

So this module uses ``epptools``. Neither validates frames against the XSDs at run time; the
test suite's EPP server (``tests/epp_server``) validates every frame this backend sends
against the RFC schemas, so no hand-written XML is needed here.

Sessions. A job run or a bulk execution wraps its work in ``with backend.session():``: one
login for the batch, on the first command, and a logout when the block ends. An operation
outside a block gets a session of its own. Sessions are per thread (web requests and the
scheduler share one backend instance; an EPP connection carries one command at a time).

Failures. A dropped connection or an unanswered command is retried once on a new connection;
that is safe because every command here is idempotent in the way ``base`` describes:

- ``renew``: a retry of a renewal that went through finds the registry's date moved on and is
  answered 2306; if ``info`` then shows exactly ``renewed_expiry(current_expiry, years)`` the
  renewal is reported done once (``already_done=True``), otherwise the 2306 is raised with the
  server's message;
- ``delete``: 2304 on a name already ``pendingDelete`` means an earlier attempt went through;
  so does 2303 on the retry after a lost answer at a registry that drops names at once (a 2303
  on a first attempt is an error: the name is not there);
- ``deactivate``/``reactivate``: a refused ``domain:update`` (the status is already set, or
  not set) is success when ``info`` shows the wanted state.

A refused connection, a failed TLS handshake, a missing greeting or a refused login is a
``RegistrarUnavailable`` that says which; it is remembered for the rest of the session and
raised again without reconnecting, so a batch with bad credentials logs in once, not once per
domain (registries lock accounts that keep failing). A result code of 2000 or more is
``RegistrarError(reason, code, summary=message)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epptools import Client, Config
from epptools.exceptions import (
    AuthenticationException,
    CommandException,
    ConnectionException,
    EppException,
    SessionError,
)
from epptools.response import Response

from renewal_reminder.renewals.registrars.base import (
    OBJECT_DOES_NOT_EXIST,
    STATUS_CLIENT_HOLD,
    STATUS_OK,
    STATUS_PROHIBITS_OPERATION,
    VALUE_POLICY_ERROR,
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    RegistrarUnavailable,
    RenewResult,
    check_years,
    renewed_expiry,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 700
DEFAULT_TIMEOUT = 30.0

AUTHENTICATION_ERROR = 2200
#: The longest EPP_TIMEOUT accepted (seconds): a registry that has not answered in ten minutes
#: is not going to, and a job should fail rather than hang for hours.
MAX_TIMEOUT = 600.0


@dataclass(frozen=True)
class EppSettings:
    """How to reach and log in to the registry (the ``EPP_*`` settings)."""

    host: str
    client_id: str
    password: str = field(repr=False)
    port: int = DEFAULT_PORT
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EppSettings:
        """The settings from the product's config (unprefixed keys); ``ValueError`` says what
        is missing or wrong, so that start-up stops instead of the first renewal failing."""

        def text(key: str) -> str:
            return str(config.get(key) or "").strip()

        missing = [key for key in ("EPP_HOST", "EPP_CLIENT_ID", "EPP_PASSWORD") if not text(key)]
        if missing:
            raise ValueError(f"REGISTRAR_BACKEND=epp needs {', '.join(missing)}")
        try:
            port = int(text("EPP_PORT") or DEFAULT_PORT)
            timeout = float(text("EPP_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError as exc:
            raise ValueError(f"EPP_PORT and EPP_TIMEOUT must be numbers ({exc})") from None
        if not 0 < port < 65536:
            raise ValueError(f"EPP_PORT must be 1 to 65535, not {port}")
        if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
            raise ValueError(
                f"EPP_TIMEOUT must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
                f"not {text('EPP_TIMEOUT')}"
            )
        cert_file, key_file, ca_file = (
            text("EPP_CERT_FILE"),
            text("EPP_KEY_FILE"),
            text("EPP_CA_FILE"),
        )
        if key_file and not cert_file:
            raise ValueError("EPP_KEY_FILE is set but EPP_CERT_FILE is not")
        for key, path in (
            ("EPP_CERT_FILE", cert_file),
            ("EPP_KEY_FILE", key_file),
            ("EPP_CA_FILE", ca_file),
        ):
            if path and not Path(path).is_file():
                raise ValueError(f"{key} {path!r} is not a readable file")
        return cls(
            host=text("EPP_HOST"),
            client_id=text("EPP_CLIENT_ID"),
            password=str(config.get("EPP_PASSWORD")),
            port=port,
            cert_file=cert_file or None,
            key_file=key_file or None,
            ca_file=ca_file or None,
            timeout=timeout,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class EppCommandError(RegistrarError):
    """A ``RegistrarError`` from a command; ``after_lost_answer`` when it answered the retry
    of a command whose first answer was lost (so the first may have been carried out)."""

    def __init__(self, *args: Any, after_lost_answer: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.after_lost_answer = after_lost_answer


class _ThreadSession(threading.local):
    def __init__(self) -> None:
        self.client: Client | None = None
        self.depth = 0
        #: The session's connect or login failure: raised again until the session ends.
        self.failure: RegistrarUnavailable | None = None


def _expiry_date(response: Response, name: str) -> dt.date | None:
    """``exDate`` as a UTC calendar day, or None. EPP dates are XML dateTimes; most registries
    write them in UTC ("Z"), but one with an offset ("2027-01-01T00:30:00+02:00") means the
    day before in UTC, and the date is compared with curExpDate, which is the UTC day."""
    text = (response.expiry_date() or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RegistrarError(
            f"the registry sent an unreadable expiry date for {name}: {text!r}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


class EppRegistrar(RegistrarBackend):
    name = "epp"
    can_execute = True

    def __init__(
        self,
        settings: EppSettings,
        *,
        client_factory: Callable[[Config], Client] = Client,
    ):
        self.settings = settings
        self._client_factory = client_factory
        self._local = _ThreadSession()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EppRegistrar:
        return cls(EppSettings.from_config(config))

    # --- sessions ------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[None]:
        state = self._local
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
            if state.depth == 0:
                self._close(state)

    def _config(self) -> Config:
        s = self.settings
        return Config(
            host=s.host,
            port=s.port,
            clid=s.client_id,
            password=s.password,
            connect_timeout=s.timeout,
            read_timeout=s.timeout,
            ca_file=s.ca_file,
            client_cert=s.cert_file,
            client_key=s.key_file,
            cltrid_prefix="RR",
        )

    def _client(self, state: _ThreadSession) -> Client:
        """The thread's logged-in client: connects and logs in on first use. A connect or
        login failure is remembered for the session and raised again without reconnecting."""
        if state.client is not None:
            return state.client
        if state.failure is not None:
            raise state.failure
        try:
            client = self._open()
        except RegistrarUnavailable as exc:
            if state.depth > 0:
                state.failure = exc
            raise
        state.client = client
        return client

    def _open(self) -> Client:
        """A new connection, logged in; ``RegistrarUnavailable`` saying what failed."""
        where, clid = self.settings.where, self.settings.client_id
        try:
            client = self._client_factory(self._config())
        except EppException as exc:
            raise RegistrarUnavailable(f"the EPP settings are not usable: {exc}") from exc
        try:
            client.connect()
        except EppException as exc:
            client.disconnect()
            raise RegistrarUnavailable(
                _connect_failure(str(exc), where, self.settings.timeout)
            ) from exc
        try:
            client.login()
        except AuthenticationException as exc:
            client.disconnect()
            raise RegistrarUnavailable(
                f"the registry at {where} refused the login as {clid}: check EPP_CLIENT_ID and "
                "EPP_PASSWORD",
                AUTHENTICATION_ERROR,
                summary=_message(exc),
            ) from exc
        except CommandException as exc:
            client.disconnect()
            raise RegistrarUnavailable(
                f"the registry at {where} refused the login as {clid}",
                exc.epp_code,
                summary=_message(exc),
            ) from exc
        except EppException as exc:
            client.disconnect()
            raise RegistrarUnavailable(f"logging in to {where} failed: {exc}") from exc
        log.info("EPP session opened at %s as %s", where, clid)
        return client

    def _close(self, state: _ThreadSession) -> None:
        state.failure = None  # the next session tries again
        client, state.client = state.client, None
        if client is None:
            return
        try:
            client.logout()
        except EppException as exc:
            log.info(
                "EPP logout at %s failed (the session ends anyway): %s", self.settings.where, exc
            )
        finally:
            client.disconnect()

    def _drop(self, state: _ThreadSession) -> None:
        client, state.client = state.client, None
        if client is not None:
            client.disconnect()

    def _call(self, what: str, send: Callable[[Client], Response]) -> Response:
        """Send one command in the thread's session; a lost connection or answer is retried
        once on a new connection. ``what`` (e.g. "renew example.com") names it in errors."""
        state = self._local
        for attempt in (1, 2):
            client = self._client(state)
            try:
                return send(client)
            except SessionError as exc:  # 2500-2502: the server ends the session
                self._drop(state)
                if attempt == 2:
                    raise _command_error(exc, what, after_lost_answer=True) from exc
                log.warning("EPP %s: %s; logging in again", what, exc)
            except CommandException as exc:
                raise _command_error(exc, what, after_lost_answer=attempt == 2) from exc
            except ConnectionException as exc:
                self._drop(state)
                if attempt == 2:
                    raise EppCommandError(
                        f"{what}: no answer from {self.settings.where} ({exc})",
                        after_lost_answer=True,
                    ) from exc
                log.warning("EPP %s: %s; reconnecting once", what, exc)
            except EppException as exc:  # refused before sending (a value the schema forbids)
                raise EppCommandError(f"{what}: {exc}") from exc
        raise AssertionError("unreachable")

    # --- the backend ---------------------------------------------------------------------------

    def info(self, name: str) -> DomainInfo:
        with self.session():
            response = self._call(f"info {name}", lambda c: c.domain.info(name, hosts="none"))
        expiry = _expiry_date(response, name)
        if expiry is None:
            raise RegistrarError(f"the registry sent no expiry date for {name}")
        statuses = frozenset(response.statuses()) or frozenset({STATUS_OK})
        return DomainInfo(name, expiry, statuses)

    def renew(
        self,
        name: str,
        current_expiry: dt.date,
        years: int,
        *,
        new_expiry: dt.date | None = None,
    ) -> RenewResult:
        """``domain:renew`` with curExpDate and a period in years; ``new_expiry`` is ignored
        (the registry computes the date and answers it in ``renData``)."""
        check_years(years)
        target = renewed_expiry(current_expiry, years)
        with self.session():
            try:
                response = self._call(
                    f"renew {name}",
                    lambda c: c.domain.renew(name, current_expiry.isoformat(), years),
                )
            except RegistrarError as exc:
                if exc.code != VALUE_POLICY_ERROR:
                    raise
                # Done already (a retry after a lost answer)? Then the date is the target.
                if self._expiry_or_none(name) == target:
                    return RenewResult(name, target, already_done=True)
                raise
            renewed = _expiry_date(response, name) or self.info(name).expiry_date
        return RenewResult(name, renewed)

    def delete(self, name: str) -> None:
        with self.session():
            try:
                self._call(f"delete {name}", lambda c: c.domain.delete(name))
            except EppCommandError as exc:
                if exc.code == OBJECT_DOES_NOT_EXIST and exc.after_lost_answer:
                    return  # the lost first attempt deleted it, at a registry that drops at once
                if exc.code == STATUS_PROHIBITS_OPERATION:
                    info = self._info_or_none(name)
                    if info is not None and info.deleted:
                        return  # already in its redemption period: an earlier attempt went through
                raise

    def deactivate(self, name: str) -> None:
        """``domain:update`` adding ``clientHold``: the name leaves DNS, stays registered."""
        self._set_hold(name, on_hold=True)

    def reactivate(self, name: str) -> None:
        """``domain:update`` removing ``clientHold``."""
        self._set_hold(name, on_hold=False)

    def _set_hold(self, name: str, *, on_hold: bool) -> None:
        change = {"statuses": [STATUS_CLIENT_HOLD]}
        verb = "deactivate" if on_hold else "reactivate"
        with self.session():
            try:
                self._call(
                    f"{verb} {name}",
                    lambda c: c.domain.update(
                        name, **({"add": change} if on_hold else {"rem": change})
                    ),
                )
            except RegistrarError as exc:
                if exc.code not in (VALUE_POLICY_ERROR, STATUS_PROHIBITS_OPERATION):
                    raise
                info = self._info_or_none(name)
                if info is None or info.deleted:
                    raise
                if (STATUS_CLIENT_HOLD in info.statuses) == on_hold:
                    return  # already as wanted (an earlier attempt, or done at the registrar)
                raise

    def _info_or_none(self, name: str) -> DomainInfo | None:
        try:
            return self.info(name)
        except RegistrarError:
            return None

    def _expiry_or_none(self, name: str) -> dt.date | None:
        info = self._info_or_none(name)
        return info.expiry_date if info else None


def _connect_failure(detail: str, where: str, timeout: float) -> str:
    """What went wrong while connecting, in words that point at the fix: nothing listening
    (host, port, firewall), the TLS handshake (certificate, key, CA), or no greeting."""
    if detail.startswith("Cannot connect"):
        return (
            f"cannot connect to the EPP server at {where} (check EPP_HOST and EPP_PORT): {detail}"
        )
    if detail.startswith("TLS handshake"):
        return (
            f"the TLS handshake with {where} failed (check EPP_CERT_FILE, EPP_KEY_FILE and "
            f"EPP_CA_FILE): {detail}"
        )
    return f"no EPP greeting from {where} within {timeout:g} s: {detail}"


def _message(exc: CommandException) -> str | None:
    return (exc.response.message() if exc.response is not None else None) or None


def _command_error(exc: CommandException, what: str, *, after_lost_answer: bool) -> EppCommandError:
    """The server's result as a ``RegistrarError``: its ``<reason>`` (or what was asked) as the
    detail, its ``<msg>`` as the summary, its result code as the code."""
    reasons = [reason for reason in exc.reasons() if reason]
    return EppCommandError(
        "; ".join(reasons) or what,
        exc.epp_code,
        summary=_message(exc),
        after_lost_answer=after_lost_answer,
    )
