"""A small EPP registry for the tests: RFC 5734 over mutual TLS on 127.0.0.1, RFC 5730/5731
commands, a registry in memory.

It is strict where a real registry is strict and where the backend's correctness shows:

- every frame it receives is validated against the RFC schemas (``xsd/``); an invalid one is
  answered with 2001 and the validator's message, and is counted in ``invalid_frames`` so a
  test can assert that the client never sent one. Its own answers are validated too (a server
  bug lands in ``server_errors``);
- a client certificate signed by the test CA is required, as registries require one;
- commands before ``<login>`` are 2002, a wrong password is 2200;
- ``domain:renew`` checks ``curExpDate`` against the registry's date (2306), statuses (2304),
  the period and the 10-year cap (2306); ``domain:delete`` puts a name in ``pendingDelete``;
  ``domain:update`` adds and removes client statuses (2306 when already set or not set).

It can be told to fail a command with a given code (``fail_next``), to leave a command
unanswered (``stall_next``: the client times out), to execute a command and then drop the
connection without answering (``drop_after_next``: a lost answer), and to misbehave at the
greeting (``greeting``). ``logins`` and ``executed`` count what happened.

The server runs an asyncio loop in a thread of its own, so synchronous client code in the test
talks to it as to a remote registry. All registry state sits behind one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from dateutil.relativedelta import relativedelta
from lxml import etree

from tests.epp_server.certificates import Certificates

XSD_FOLDER = Path(__file__).with_name("xsd")

EPP_NS = "urn:ietf:params:xml:ns:epp-1.0"
DOMAIN_NS = "urn:ietf:params:xml:ns:domain-1.0"
HOST_NS = "urn:ietf:params:xml:ns:host-1.0"
CONTACT_NS = "urn:ietf:params:xml:ns:contact-1.0"
_NS = {"epp": EPP_NS, "domain": DOMAIN_NS}

#: RFC 5730 section 3: the result codes this server answers, with their standard messages.
MESSAGES = {
    1000: "Command completed successfully",
    1500: "Command completed successfully; ending session",
    2001: "Command syntax error",
    2002: "Command use error",
    2004: "Parameter value range error",
    2200: "Authentication error",
    2303: "Object does not exist",
    2304: "Object status prohibits operation",
    2306: "Parameter value policy error",
    2307: "Unimplemented object service",
    2400: "Command failed",
    2500: "Command failed; server closing connection",
}

_MAX_FRAME = 1_048_576
_CLIENT_STATUSES = {
    "clientDeleteProhibited",
    "clientHold",
    "clientRenewProhibited",
    "clientTransferProhibited",
    "clientUpdateProhibited",
}
_PROHIBITED_BY = {
    "renew": {"pendingDelete", "clientRenewProhibited", "serverRenewProhibited"},
    "delete": {"pendingDelete", "clientDeleteProhibited", "serverDeleteProhibited"},
    "update": {"pendingDelete", "serverUpdateProhibited"},
}


def load_schema() -> etree.XMLSchema:
    """The RFC 5730-5733 schemas as one validator: a driver schema imports each namespace."""
    imports = "".join(
        f'<xs:import namespace="urn:ietf:params:xml:ns:{name}" schemaLocation="{name}.xsd"/>'
        for name in ("eppcom-1.0", "epp-1.0", "host-1.0", "domain-1.0", "contact-1.0")
    )
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:x-test:epp-driver">{imports}</xs:schema>'
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.fromstring(
        driver.encode(), parser, base_url=(XSD_FOLDER / "driver.xsd").as_uri()
    )
    return etree.XMLSchema(document)


SCHEMA = load_schema()


class ProtocolError(Exception):
    """A frame the server answers with an error code and closes nothing."""

    def __init__(self, code: int, reason: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class RegistryDomain:
    name: str
    expiry: dt.datetime
    statuses: set[str] = field(default_factory=set)
    roid: str = ""
    created: dt.datetime = field(default_factory=lambda: dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


@dataclass
class _Trouble:
    kind: str  # "fail", "stall", "drop"
    times: int
    code: int = 2400
    message: str = ""
    reason: str = ""


@dataclass
class _Session:
    logged_in: bool = False


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0Z")


class EppTestServer:
    """Start with ``start()`` (or as a context manager); ``address`` is ``(host, port)``."""

    def __init__(
        self,
        certificates: Certificates,
        *,
        client_id: str = "registrar1",
        password: str = "secret-pw1",
        today: Callable[[], dt.date] = dt.date.today,
    ):
        self.certificates = certificates
        self.client_id = client_id
        self.password = password
        self._today = today
        self._lock = threading.RLock()
        self.domains: dict[str, RegistryDomain] = {}
        self._troubles: dict[str, _Trouble] = {}
        #: "normal"; "silent" (no greeting: the client times out); "close" (hang up at once);
        #: "garbage" (a frame that is no EPP greeting).
        self.greeting = "normal"
        #: Where a name is deleted at once instead of entering pendingDelete.
        self.delete_removes = False
        self.logins = 0
        self.connections = 0
        #: Commands carried out (successfully or not), by verb: {"renew": 2, ...}
        self.executed: Counter[str] = Counter()
        #: Changes applied: [("renew", "example.com"), ("delete", ...)]
        self.history: list[tuple[str, str]] = []
        #: Frames that failed schema validation: (validator message, frame).
        self.invalid_frames: list[tuple[str, str]] = []
        #: The server's own mistakes (an answer that is not valid EPP); must stay empty.
        self.server_errors: list[str] = []
        self._sv_trids = itertools.count(1)
        self._roids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    # --- setting up ----------------------------------------------------------------------------

    def register(self, name: str, expiry: dt.date, *statuses: str) -> RegistryDomain:
        """Put ``name`` in the registry, expiring on ``expiry`` (at noon UTC)."""
        with self._lock:
            domain = RegistryDomain(
                name=name.lower(),
                expiry=dt.datetime.combine(expiry, dt.time(12, 0), tzinfo=dt.UTC),
                statuses=set(statuses) - {"ok"},
                roid=f"D{next(self._roids)}-TEST",
            )
            self.domains[domain.name] = domain
            return domain

    def expiry(self, name: str) -> dt.date:
        with self._lock:
            return self.domains[name.lower()].expiry.date()

    def statuses(self, name: str) -> set[str]:
        with self._lock:
            return set(self.domains[name.lower()].statuses)

    def fail_next(
        self, command: str, code: int = 2400, message: str = "", reason: str = "", times: int = 1
    ) -> None:
        """Answer the next ``times`` ``command`` frames (login, info, renew, ...) with ``code``."""
        with self._lock:
            self._troubles[command] = _Trouble("fail", times, code, message, reason)

    def stall_next(self, command: str, times: int = 1) -> None:
        """Leave the next ``times`` ``command`` frames unanswered (nothing is executed)."""
        with self._lock:
            self._troubles[command] = _Trouble("stall", times)

    def drop_after_next(self, command: str, times: int = 1) -> None:
        """Execute the next ``times`` ``command`` frames, then hang up instead of answering."""
        with self._lock:
            self._troubles[command] = _Trouble("drop", times)

    # --- running -------------------------------------------------------------------------------

    def start(self) -> EppTestServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._connection, "127.0.0.1", 0, ssl=self._ssl_context(), backlog=64
                )
            )
            self.address = self._server.sockets[0].getsockname()[:2]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="epp-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test EPP server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()
        self._loop = None

    def __enter__(self) -> EppTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificates.server_cert, self.certificates.server_key)
        context.load_verify_locations(self.certificates.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, as registries require
        return context

    # --- the wire (RFC 5734) -------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self._tasks.add(task)
        with self._lock:
            self.connections += 1
        try:
            await self._converse(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1)
            self._tasks.discard(task)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self.greeting == "silent":
            await reader.read()  # until the client gives up
            return
        if self.greeting == "close":
            return
        if self.greeting == "garbage":
            await self._send(writer, "<not-epp/>", validate=False)
            await reader.read()
            return
        await self._send(writer, self._greeting_xml())
        session = _Session()
        while True:
            header = await reader.readexactly(4)
            (length,) = struct.unpack("!I", header)
            if not 4 < length <= _MAX_FRAME:
                return
            frame = (await reader.readexactly(length - 4)).decode("utf-8", "replace")
            answer, action = self._handle(frame, session)
            if action == "stall":
                await reader.read()
                return
            if action == "drop":
                return
            await self._send(writer, answer)
            if action == "close":
                return

    async def _send(self, writer: asyncio.StreamWriter, xml: str, validate: bool = True) -> None:
        if validate:
            self._check_own_answer(xml)
        body = xml.encode("utf-8")
        writer.write(struct.pack("!I", len(body) + 4) + body)
        await writer.drain()

    def _check_own_answer(self, xml: str) -> None:
        try:
            document = etree.fromstring(xml.encode())
            SCHEMA.assertValid(document)
        except (etree.XMLSyntaxError, etree.DocumentInvalid) as exc:
            with self._lock:
                self.server_errors.append(f"{exc}: {xml}")

    # --- commands ------------------------------------------------------------------------------

    def _handle(self, frame: str, session: _Session) -> tuple[str, str | None]:
        """The answer to one frame, and what to do after it: None, "close", "stall", "drop"."""
        try:
            document = etree.fromstring(
                frame.encode("utf-8"),
                etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False),
            )
            SCHEMA.assertValid(document)
        except (etree.XMLSyntaxError, etree.DocumentInvalid) as exc:
            with self._lock:
                self.invalid_frames.append((str(exc), frame))
            return self._result(2001, reason=str(exc)[:500]), None
        if document.find("epp:hello", _NS) is not None:
            return self._greeting_xml(), None
        command = document.find("epp:command", _NS)
        if command is None:
            return self._result(2001, reason="expected <command> or <hello>"), None
        verb_element = command[0]
        verb = etree.QName(verb_element).localname
        cl_trid = command.findtext("epp:clTRID", namespaces=_NS)
        with self._lock:
            self.executed[verb] += 1
            trouble = self._trouble(verb)
            if trouble is not None and trouble.kind == "stall":
                return "", "stall"
            if trouble is not None and trouble.kind == "fail":
                return self._result(trouble.code, trouble.message, trouble.reason, cl_trid), None
            try:
                answer, action = self._execute(verb, verb_element, session, cl_trid)
            except ProtocolError as exc:
                answer, action = self._result(exc.code, reason=exc.reason, cl_trid=cl_trid), None
            if trouble is not None and trouble.kind == "drop":
                return "", "drop"
            return answer, action

    def _trouble(self, verb: str) -> _Trouble | None:
        trouble = self._troubles.get(verb)
        if trouble is None:
            return None
        trouble.times -= 1
        if trouble.times <= 0:
            del self._troubles[verb]
        return trouble

    def _execute(self, verb: str, element, session: _Session, cl_trid: str | None):
        if verb == "login":
            if session.logged_in:
                raise ProtocolError(2002, "already logged in")
            client_id = element.findtext("epp:clID", namespaces=_NS)
            password = element.findtext("epp:pw", namespaces=_NS)
            if client_id != self.client_id or password != self.password:
                raise ProtocolError(2200, "wrong client id or password")
            session.logged_in = True
            self.logins += 1
            return self._result(1000, cl_trid=cl_trid), None
        if not session.logged_in:
            raise ProtocolError(2002, "log in first")
        if verb == "logout":
            session.logged_in = False
            return self._result(1500, cl_trid=cl_trid), "close"
        object_element = element[0] if len(element) else None
        if object_element is None or etree.QName(object_element).namespace != DOMAIN_NS:
            raise ProtocolError(2307, "this registry serves domain objects only")
        handler = getattr(self, f"_domain_{verb}", None)
        if handler is None:
            raise ProtocolError(2307, f"domain:{verb} is not implemented here")
        return handler(object_element, cl_trid), None

    def _find(self, element) -> RegistryDomain:
        name = (element.findtext("domain:name", namespaces=_NS) or "").strip().lower()
        domain = self.domains.get(name)
        if domain is None:
            raise ProtocolError(2303, f"{name} is not registered here")
        return domain

    @staticmethod
    def _allowed(domain: RegistryDomain, verb: str) -> None:
        blocking = sorted(domain.statuses & _PROHIBITED_BY[verb])
        if blocking:
            raise ProtocolError(2304, f"{domain.name} has status {', '.join(blocking)}")

    def _domain_info(self, element, cl_trid):
        domain = self._find(element)
        statuses = "".join(
            f"<domain:status s={quoteattr(s)}/>" for s in sorted(domain.statuses or {"ok"})
        )
        data = (
            f'<domain:infData xmlns:domain="{DOMAIN_NS}">'
            f"<domain:name>{escape(domain.name)}</domain:name>"
            f"<domain:roid>{domain.roid}</domain:roid>{statuses}"
            f"<domain:clID>{escape(self.client_id)}</domain:clID>"
            f"<domain:crDate>{_stamp(domain.created)}</domain:crDate>"
            f"<domain:exDate>{_stamp(domain.expiry)}</domain:exDate>"
            "</domain:infData>"
        )
        return self._result(1000, cl_trid=cl_trid, data=data)

    def _domain_renew(self, element, cl_trid):
        domain = self._find(element)
        self._allowed(domain, "renew")
        current = dt.date.fromisoformat(element.findtext("domain:curExpDate", namespaces=_NS))
        period = element.find("domain:period", _NS)
        amount = int(period.text) if period is not None else 1
        unit = period.get("unit") if period is not None else "y"
        if current != domain.expiry.date():
            raise ProtocolError(
                2306,
                f"curExpDate {current} does not match the expiry date {domain.expiry.date()}",
            )
        step = relativedelta(years=amount) if unit == "y" else relativedelta(months=amount)
        new_expiry = domain.expiry + step
        latest = self._today() + relativedelta(years=10)
        if new_expiry.date() > latest:
            raise ProtocolError(
                2306, f"the new expiry date {new_expiry.date()} is beyond {latest} (10 years)"
            )
        domain.expiry = new_expiry
        self.history.append(("renew", domain.name))
        data = (
            f'<domain:renData xmlns:domain="{DOMAIN_NS}">'
            f"<domain:name>{escape(domain.name)}</domain:name>"
            f"<domain:exDate>{_stamp(domain.expiry)}</domain:exDate>"
            "</domain:renData>"
        )
        return self._result(1000, cl_trid=cl_trid, data=data)

    def _domain_delete(self, element, cl_trid):
        domain = self._find(element)
        self._allowed(domain, "delete")
        if self.delete_removes:
            del self.domains[domain.name]
        else:
            domain.statuses.add("pendingDelete")
        self.history.append(("delete", domain.name))
        return self._result(1000, cl_trid=cl_trid)

    def _domain_update(self, element, cl_trid):
        domain = self._find(element)
        self._allowed(domain, "update")
        added = {s.get("s") for s in element.findall("domain:add/domain:status", _NS)}
        removed = {s.get("s") for s in element.findall("domain:rem/domain:status", _NS)}
        if (
            element.find("domain:add/domain:ns", _NS) is not None
            or element.find("domain:chg", _NS) is not None
        ):
            raise ProtocolError(2307, "this test registry changes statuses only")
        for status in sorted(added | removed):
            if status not in _CLIENT_STATUSES:
                raise ProtocolError(2306, f"a registrar cannot set or remove {status}")
        if "clientUpdateProhibited" in domain.statuses - removed:
            raise ProtocolError(2304, f"{domain.name} has status clientUpdateProhibited")
        already = sorted(added & domain.statuses)
        if already:
            raise ProtocolError(2306, f"{domain.name} already has status {', '.join(already)}")
        missing = sorted(removed - domain.statuses)
        if missing:
            raise ProtocolError(2306, f"{domain.name} does not have status {', '.join(missing)}")
        domain.statuses = (domain.statuses | added) - removed
        self.history.append(("update", domain.name))
        return self._result(1000, cl_trid=cl_trid)

    # --- answers -------------------------------------------------------------------------------

    def _greeting_xml(self) -> str:
        uris = "".join(f"<objURI>{uri}</objURI>" for uri in (DOMAIN_NS, HOST_NS, CONTACT_NS))
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<epp xmlns="{EPP_NS}"><greeting><svID>Renewal Reminder test registry</svID>'
            f"<svDate>{_stamp(dt.datetime.now(dt.UTC))}</svDate>"
            f"<svcMenu><version>1.0</version><lang>en</lang>{uris}</svcMenu>"
            "<dcp><access><all/></access><statement><purpose><admin/><prov/></purpose>"
            "<recipient><ours/><public/></recipient><retention><stated/></retention>"
            "</statement></dcp></greeting></epp>"
        )

    def _result(
        self,
        code: int,
        message: str = "",
        reason: str = "",
        cl_trid: str | None = None,
        data: str = "",
    ) -> str:
        ext_value = ""
        if reason:
            ext_value = (
                f"<extValue><value><undef/></value><reason>{escape(reason)}</reason></extValue>"
            )
        trid = f"<clTRID>{escape(cl_trid)}</clTRID>" if cl_trid else ""
        trid += f"<svTRID>TEST-{next(self._sv_trids):06d}</svTRID>"
        res_data = f"<resData>{data}</resData>" if data else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<epp xmlns="{EPP_NS}"><response>'
            f'<result code="{code}"><msg>{escape(message or MESSAGES.get(code, "Error"))}</msg>'
            f"{ext_value}</result>{res_data}<trID>{trid}</trID></response></epp>"
        )
