"""Import a reseller's portfolio (relations and their domains) from a CSV file.

The file is UTF-8 CSV with a header line. Required columns::

    domain, expiry_date, relation_number, relation_name, relation_email

Optional columns::

    relation_kind        reseller | client (default client)
    reseller_number      number of the parent reseller (in the file or the database)
    sales_contact_email  email of an existing user holding the Sales role
    language             en | nl (default en)
    status               a DomainStatus value (active, renewed, ...)

An ``expiry_date`` is YYYY-MM-DD from 1985-01-01 to today + 11 years (the rule of
``validation.check_expiry_date``, the same as the forms').

Relations are upserted by number, domains by normalised name (lower-case punycode; IDN input
is accepted). Re-importing the same file changes nothing (rows are only written when a value
differs, so ``updated_at`` stays). When a domain's expiry date changes, its status follows
``status_after_expiry_change`` unless the row gives a status, which is then applied as is. A
domain listed under another relation than in the database moves to the file's relation.

Within the file, every row naming a relation must agree on its data, and a domain listed twice
must have the same data both times. A parent must be a reseller, a reseller has no parent, and
a reseller that becomes a client must not keep clients.

Optional relation columns: when a column is *in the header*, its cells are authoritative and an
empty cell means the default (client, no reseller, no sales contact, "en"), so a file can also
clear a reseller or a sales contact. When a column is *not in the header*, existing relations
keep their value and new relations get the default. An empty ``status`` cell means "no explicit
status" (the expiry rule applies; new domains are ``active``).

The import is all or nothing: the whole file is validated first (reads only), and only a file
without errors is written, in one transaction, with bulk statements. Any error raises
``PortfolioImportError`` listing the offending lines; the session is then rolled back and
nothing has been written. On success the session is committed. Either way, pass a session
without unrelated pending changes: they would be committed or rolled back with the import.

The stream may be text (opened with ``encoding="utf-8", newline=""``) or binary (for example
an uploaded file's ``.stream``). Prefer binary: then a file that is not UTF-8 is reported with
the exact line of the first bad byte; with a text stream the decoder fails somewhere at or after
the line it names. A UTF-8 byte-order mark is accepted either way. Header names are matched
case-insensitively (spaces count as underscores), unknown columns are ignored, cells are
trimmed, blank lines are skipped, and a header with semicolons and no commas (the Excel export
of some locales) is read with ``;`` as the separator.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import re
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from renewal_reminder.i18n import SUPPORTED
from renewal_reminder.models import Domain, DomainStatus, Relation, RelationKind
from renewal_reminder.models.base import user_ids_with_role, user_model, utcnow
from renewal_reminder.models.relation import first_link_version
from renewal_reminder.renewals import bulk_rows, lifecycle
from renewal_reminder.renewals.access import current_roles
from renewal_reminder.renewals.lifecycle import status_after_expiry_change
from renewal_reminder.renewals.validation import (
    InvalidValue,
    check_expiry_date,
    normalize_domain_name,
    normalize_email,
)

REQUIRED_COLUMNS = ("domain", "expiry_date", "relation_number", "relation_name", "relation_email")
OPTIONAL_COLUMNS = (
    "relation_kind",
    "reseller_number",
    "sales_contact_email",
    "language",
    "status",
)
#: The languages a relation may have: those the product writes its emails in.
LANGUAGES = SUPPORTED
DEFAULT_LANGUAGE = "en"

#: How many errors ``PortfolioImportError.errors`` holds; ``total`` counts them all.
MAX_REPORTED_ERRORS = 100
#: Validation stops collecting once this many errors were found (the file is rejected anyway).
_MAX_COLLECTED_ERRORS = 10_000

#: Parameters per ``IN (...)`` lookup: below SQLite's old 999-variable limit.
_LOOKUP_CHUNK = 900
#: Rows per bulk INSERT/UPDATE call, to bound memory of the parameter lists.
_WRITE_CHUNK = 10_000

#: Reads use the tables (Core) rather than the ORM entities: for 200,000 rows the ORM's per-row
#: bookkeeping doubles their time and adds nothing here. Inserts and the domains' updates go
#: through ``bulk_rows`` (tuples at driver level: executemany on SQLite, COPY on PostgreSQL);
#: relations' updates through the ORM's bulk UPDATE by primary key (for ``link_version``).
_RELATION = Relation.__table__
_DOMAIN = Domain.__table__
#: The columns the import writes (``bulk_rows`` applies no defaults: every column is given).
_RELATION_INSERT = (
    "number",
    "name",
    "billing_email",
    "kind",
    "parent_id",
    "sales_contact_id",
    "language",
    "reminders_to_reseller",
    "link_version",
    "created_at",
    "updated_at",
)
_DOMAIN_INSERT = ("name", "relation_id", "expiry_date", "status", "created_at", "updated_at")
_DOMAIN_UPDATE = ("relation_id", "expiry_date", "status", "updated_at")

_NAME_MAX = Relation.__table__.c.name.type.length  # 200
_EMAIL_MAX = Relation.__table__.c.billing_email.type.length  # 254
_NUMBER_MAX = 2**31 - 1  # the INTEGER column on PostgreSQL
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")


# --- Public results and errors -------------------------------------------------------------------


@dataclass
class ImportSummary:
    rows: int = 0
    relations_created: int = 0
    relations_updated: int = 0
    relations_unchanged: int = 0
    domains_created: int = 0
    domains_updated: int = 0
    domains_unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rows} {'row' if self.rows == 1 else 'rows'}: "
            f"relations {self.relations_created} created, {self.relations_updated} updated, "
            f"{self.relations_unchanged} unchanged; "
            f"domains {self.domains_created} created, {self.domains_updated} updated, "
            f"{self.domains_unchanged} unchanged"
        )


@dataclass(frozen=True)
class RowError:
    #: Line number in the file; the header is line 1. For a record spanning several lines
    #: (a quoted cell with a line break) it is the record's first line.
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class PortfolioImportError(Exception):
    """The file was rejected; nothing was imported.

    ``errors`` holds the first ``MAX_REPORTED_ERRORS`` errors in line order, ``total`` how many
    were found (validation stops counting at 10,000).
    """

    def __init__(self, errors: Iterable[RowError], total: int | None = None) -> None:
        ordered = sorted(errors, key=lambda error: error.line)
        self.total = len(ordered) if total is None else total
        self.errors: list[RowError] = ordered[:MAX_REPORTED_ERRORS]
        super().__init__(self.errors)

    def __str__(self) -> str:
        count = f"{self.total} error{'' if self.total == 1 else 's'}"
        head = f"the file has {count}"
        if self.total > len(self.errors):
            head += f" (the first {len(self.errors)} are listed)"
        return "\n".join([head + ":", *(str(error) for error in self.errors)])


# --- What the file says --------------------------------------------------------------------------


@dataclass(slots=True)
class _FileRelation:
    """One relation as the file describes it (every row naming it must agree)."""

    number: int
    line: int  # first line that names it
    name: str
    email: str
    kind: RelationKind  # resolved: an empty cell or missing column gives client
    reseller_number: int | None
    sales_email: str | None
    language: str


@dataclass(slots=True)
class _DbRelation:
    id: int
    number: int
    name: str
    billing_email: str
    kind: RelationKind
    parent_id: int | None
    sales_contact_id: int | None
    language: str


class _Errors:
    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.total = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.items) < _MAX_COLLECTED_ERRORS:
            self.items.append(RowError(line, message))

    @property
    def full(self) -> bool:
        return self.total >= _MAX_COLLECTED_ERRORS

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_(self) -> typing.NoReturn:
        raise PortfolioImportError(self.items, self.total)


_FIELD_LABELS = {
    "name": "relation_name",
    "email": "relation_email",
    "kind": "relation_kind",
    "reseller_number": "reseller_number",
    "sales_email": "sales_contact_email",
    "language": "language",
}


# --- Entry point ---------------------------------------------------------------------------------


#: ``progress(stage, done, total)``: ``stage`` is "checking" (rows read and validated; total
#: unknown: ``None``) or "writing" (domains written out of ``total``). Called every few
#: thousand rows, from the importing thread.
Progress = typing.Callable[[str, int, int | None], None]
CHECKING, WRITING = "checking", "writing"
_PROGRESS_EVERY = 5000


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


def import_portfolio(
    session: Session,
    stream: typing.TextIO | typing.BinaryIO,
    *,
    languages: Iterable[str] = LANGUAGES,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Validate the whole CSV in ``stream``, then upsert its relations and domains and commit.

    ``stream`` is text or binary (see the module docstring). ``languages`` are the accepted
    values of the ``language`` column (pass the keys of the app's LANGUAGES setting to follow
    it). Expiry dates must lie from 1985-01-01 to ``today`` (default: the current date) + 11
    years (``validation.check_expiry_date``). Raises ``PortfolioImportError`` (after rolling
    the session back, nothing written) when any row is invalid. Database errors while writing
    roll back as well and propagate unchanged.
    """
    progress = progress or _no_progress
    try:
        validator = _Validator(session, frozenset(languages), today or dt.date.today())
        validator.progress = progress
        plan = validator.run(stream)
        summary = _write(session, plan, progress)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


# --- Reading and validating ----------------------------------------------------------------------


@dataclass
class _Plan:
    rows: int
    relations: dict[int, _FileRelation]
    #: Which optional relation columns the header has.
    has_kind: bool
    has_reseller: bool
    has_sales: bool
    has_language: bool
    db_relations: dict[int, _DbRelation]  # by number
    db_relation_numbers_by_id: dict[int, int]
    sales_ids: dict[str, int]  # lower-case email -> user id
    #: name -> (line, relation number, expiry date, explicit status or None)
    domains: dict[str, tuple[int, int, dt.date, DomainStatus | None]]
    #: name -> (id, relation id, expiry date, status)
    db_domains: dict[str, tuple[int, int, dt.date, DomainStatus]]


class _Validator:
    def __init__(self, session: Session, languages: frozenset[str], today: dt.date) -> None:
        self.session = session
        self.languages = languages
        self.today = today
        self.errors = _Errors()
        self._emails: dict[str, str | InvalidValue] = {}
        self.progress: Progress = _no_progress

    def run(self, stream) -> _Plan:
        records = self._records(stream)
        header_line, header = next(records, (1, None))
        if header is None:
            self.errors.add(
                1,
                "the file is empty: expected a header line with the columns "
                + ", ".join(REQUIRED_COLUMNS),
            )
            self.errors.raise_()
        columns = self._columns(header_line, header)
        if self.errors:
            self.errors.raise_()
        plan = self._read_rows(records, columns, len(header))
        if self.errors.full:
            self.errors.raise_()
        self._check_against_database(plan)
        if self.errors:
            self.errors.raise_()
        return plan

    # -- decoding -----------------------------------------------------------------------------

    def _records(self, stream) -> Iterator[tuple[int, list[str]]]:
        """Yield (first line number, cells) for every CSV record, header included."""
        if isinstance(stream, io.TextIOBase):
            text_stream: typing.TextIO = stream
        else:
            data = stream.read()
            if isinstance(data, str):
                text_stream = io.StringIO(data, newline="")
            else:
                try:
                    text = bytes(data).decode("utf-8")
                except UnicodeDecodeError as exc:
                    line = bytes(data).count(b"\n", 0, exc.start) + 1
                    self.errors.add(line, _NOT_UTF8)
                    self.errors.raise_()
                text_stream = io.StringIO(text, newline="")
        try:
            first = text_stream.readline()
        except UnicodeDecodeError:
            self.errors.add(1, _NOT_UTF8_NEAR)
            self.errors.raise_()
        first = first.removeprefix("\ufeff")
        if not first.strip():
            # Leading blank lines before the header are tolerated.
            skipped = 1
            while True:
                try:
                    first = text_stream.readline()
                except UnicodeDecodeError:
                    self.errors.add(skipped + 1, _NOT_UTF8_NEAR)
                    self.errors.raise_()
                if not first:
                    return
                skipped += 1
                if first.strip():
                    break
        else:
            skipped = 1
        header_line = skipped
        delimiter = ";" if ";" in first and "," not in first else ","
        reader = csv.reader(itertools.chain([first], text_stream), delimiter=delimiter)
        offset = header_line - 1
        previous_end = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                self.errors.add(previous_end + offset + 1, _NOT_UTF8_NEAR)
                self.errors.raise_()
            except csv.Error as exc:
                self.errors.add(previous_end + offset + 1, f"unreadable CSV ({exc})")
                self.errors.raise_()
            start = previous_end + 1
            previous_end = reader.line_num
            if "\x00" in "".join(cells):
                # No database stores it in text (PostgreSQL refuses it); usually not a CSV file.
                self.errors.add(start + offset, _NUL_BYTE)
                if start == 1:  # the header
                    self.errors.raise_()
                continue
            yield start + offset, cells

    # -- header -------------------------------------------------------------------------------

    def _columns(self, line: int, header: list[str]) -> dict[str, int]:
        columns: dict[str, int] = {}
        for index, raw in enumerate(header):
            name = re.sub(r"[\s-]+", "_", raw.strip().lower())
            if not name:
                continue
            if name in columns and name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
                self.errors.add(line, f"the column {name!r} appears more than once in the header")
            columns.setdefault(name, index)
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            self.errors.add(
                line,
                f"the header lacks the required column{plural} {', '.join(missing)} "
                f"(found: {', '.join(c.strip() for c in header if c.strip()) or 'nothing'})",
            )
        return columns

    # -- rows -----------------------------------------------------------------------------------

    def _read_rows(self, records, columns: dict[str, int], header_width: int) -> _Plan:
        add_error = self.errors.add
        i_domain = columns["domain"]
        i_expiry = columns["expiry_date"]
        i_number = columns["relation_number"]
        i_name = columns["relation_name"]
        i_email = columns["relation_email"]
        i_kind = columns.get("relation_kind")
        i_reseller = columns.get("reseller_number")
        i_sales = columns.get("sales_contact_email")
        i_language = columns.get("language")
        i_status = columns.get("status")
        width = max(columns.values()) + 1

        relations: dict[int, _FileRelation] = {}
        valid_relation_cells: dict[tuple[str, ...], int] = {}
        dates: dict[str, dt.date | None] = {}
        domains: dict[str, tuple[int, int, dt.date, DomainStatus | None]] = {}
        rows = 0

        for line, record in records:
            if len(record) < width:
                record = record + [""] * (width - len(record))
            cells = list(map(str.strip, record))
            if not any(cells):
                continue  # a blank line (or a row of empty cells)
            if line % _PROGRESS_EVERY == 0:
                self.progress(CHECKING, line - 1, None)
            rows += 1
            if self.errors.full:
                break
            if len(cells) > header_width and any(cells[header_width:]):
                add_error(
                    line,
                    f"the row has {len(cells)} cells but the header only {header_width} columns "
                    "(a comma in an unquoted value?)",
                )

            # Relation part. Rows of one relation usually repeat its cells verbatim: those are
            # validated once.
            relation_cells = (
                cells[i_number],
                cells[i_name],
                cells[i_email],
                cells[i_kind] if i_kind is not None else "",
                cells[i_reseller] if i_reseller is not None else "",
                cells[i_sales] if i_sales is not None else "",
                cells[i_language] if i_language is not None else "",
            )
            number = valid_relation_cells.get(relation_cells)
            if number is None:
                current = self._relation(line, relation_cells)
                if current is not None:
                    number = current.number
                    known = relations.get(number)
                    if known is None:
                        relations[number] = current
                        valid_relation_cells[relation_cells] = number
                    else:
                        self._compare_relations(line, known, current)
                else:
                    number = _parse_number(cells[i_number])

            # Domain part.
            domain_errors = self.errors.total
            domain = None
            raw_domain = cells[i_domain]
            if not raw_domain:
                add_error(line, "domain is empty")
            else:
                try:
                    domain = normalize_domain_name(raw_domain)
                except InvalidValue as exc:
                    add_error(line, f"domain: {exc}")
            raw_expiry = cells[i_expiry]
            expiry = dates.get(raw_expiry)
            if expiry is None:
                expiry = dates[raw_expiry] = self._date(line, raw_expiry)
            status = None
            if i_status is not None and cells[i_status]:
                try:
                    status = DomainStatus(cells[i_status].lower())
                except ValueError:
                    add_error(
                        line,
                        f"status {cells[i_status]!r} is not one of: "
                        + ", ".join(s.value for s in DomainStatus),
                    )
            domain_ok = self.errors.total == domain_errors and number is not None

            if domain_ok:
                assert domain is not None and expiry is not None and number is not None
                entry = (line, number, expiry, status)
                seen = domains.get(domain)
                if seen is None:
                    domains[domain] = entry
                elif seen[1:] != entry[1:]:
                    add_error(
                        line,
                        f"domain {domain} is also on line {seen[0]} with different data "
                        f"({_describe_domain(seen)} there, {_describe_domain(entry)} here)",
                    )

        return _Plan(
            rows=rows,
            relations=relations,
            has_kind=i_kind is not None,
            has_reseller=i_reseller is not None,
            has_sales=i_sales is not None,
            has_language=i_language is not None,
            db_relations={},
            db_relation_numbers_by_id={},
            sales_ids={},
            domains=domains,
            db_domains={},
        )

    def _relation(self, line: int, cells: tuple[str, ...]) -> _FileRelation | None:
        """The relation one row describes, or ``None`` (errors recorded) if it is invalid."""
        add_error = self.errors.add
        error_count = self.errors.total
        raw_number, name, raw_email, raw_kind, raw_reseller, raw_sales, raw_language = cells
        number = self._number(line, raw_number, "relation_number")
        if not name:
            add_error(line, "relation_name is empty")
        elif len(name) > _NAME_MAX:
            add_error(line, f"relation_name is longer than {_NAME_MAX} characters")
        email = self._email(line, raw_email, "relation_email")
        kind = RelationKind.client
        if raw_kind:
            try:
                kind = RelationKind(raw_kind.lower())
            except ValueError:
                add_error(
                    line,
                    f"relation_kind {raw_kind!r} is not one of: "
                    + ", ".join(k.value for k in RelationKind),
                )
        reseller_number = None
        if raw_reseller:
            reseller_number = self._number(line, raw_reseller, "reseller_number")
        sales_email = None
        if raw_sales:
            sales_email = self._email(line, raw_sales, "sales_contact_email")
        language = DEFAULT_LANGUAGE
        if raw_language:
            language = raw_language.lower()
            if language not in self.languages:
                add_error(
                    line,
                    f"language {raw_language!r} is not one of: "
                    + ", ".join(sorted(self.languages)),
                )
        if self.errors.total != error_count:
            return None
        assert number is not None and email is not None
        return _FileRelation(
            number, line, name, email, kind, reseller_number, sales_email, language
        )

    def _compare_relations(self, line: int, known: _FileRelation, current: _FileRelation) -> None:
        for field in ("name", "email", "kind", "reseller_number", "sales_email", "language"):
            ours, theirs = getattr(current, field), getattr(known, field)
            if ours != theirs:
                self.errors.add(
                    line,
                    f"relation {current.number} has {_FIELD_LABELS[field]} {_show(ours)} here "
                    f"but {_show(theirs)} on line {known.line}",
                )

    def _number(self, line: int, text: str, column: str) -> int | None:
        if not text:
            self.errors.add(line, f"{column} is empty")
            return None
        number = _parse_number(text)
        if number is None:
            self.errors.add(line, f"{column} {text!r} is not a positive whole number")
        return number

    def _email(self, line: int, text: str, column: str) -> str | None:
        if not text:
            self.errors.add(line, f"{column} is empty")
            return None
        result = self._emails.get(text)
        if result is None:
            try:
                result = normalize_email(text)
                if len(result) > _EMAIL_MAX:
                    raise InvalidValue(f"{text!r} is longer than {_EMAIL_MAX} characters")
            except InvalidValue as exc:
                result = exc
            self._emails[text] = result
        if isinstance(result, InvalidValue):
            self.errors.add(line, f"{column}: {result}")
            return None
        return result

    def _date(self, line: int, text: str) -> dt.date | None:
        if not text:
            self.errors.add(line, "expiry_date is empty")
            return None
        if _DATE.fullmatch(text):
            try:
                value = dt.date.fromisoformat(text)
            except ValueError:
                pass
            else:
                try:
                    return check_expiry_date(value, self.today)
                except InvalidValue as exc:
                    self.errors.add(line, f"expiry_date: {exc}")
                    return None
        self.errors.add(line, f"expiry_date {text!r} is not a date in the form YYYY-MM-DD")
        return None

    # -- cross-checks against the database ------------------------------------------------------

    def _check_against_database(self, plan: _Plan) -> None:
        session = self.session
        relations = plan.relations
        add_error = self.errors.add

        # Relations named by the file (as relations or as resellers), then the parents of
        # those, so every parent's number is known.
        wanted = set(relations)
        wanted.update(r.reseller_number for r in relations.values() if r.reseller_number)
        db_relations = {row.number: row for row in self._load_relations_by("number", wanted)}
        known_ids = {row.id for row in db_relations.values()}
        parent_ids = {r.parent_id for r in db_relations.values() if r.parent_id} - known_ids
        for row in self._load_relations_by("id", parent_ids):
            db_relations[row.number] = row
        plan.db_relations = db_relations
        plan.db_relation_numbers_by_id = {row.id: row.number for row in db_relations.values()}

        def final_kind(number: int) -> RelationKind:
            if number in relations and (plan.has_kind or number not in db_relations):
                return relations[number].kind
            return db_relations[number].kind

        # Sales contacts.
        if plan.has_sales:
            emails = {r.sales_email.lower() for r in relations.values() if r.sales_email}
            plan.sales_ids = self._sales_users(emails)
            others = self._users_by_email(emails - set(plan.sales_ids))
        else:
            others = set()

        demoted: dict[int, _FileRelation] = {}  # db id -> relation becoming a client
        for number, rel in relations.items():
            existing = db_relations.get(number)
            kind = final_kind(number)
            if plan.has_reseller or existing is None:
                parent_number = rel.reseller_number
                parent = f"reseller_number {parent_number}"
            else:
                parent_number = plan.db_relation_numbers_by_id.get(existing.parent_id)
                parent = (
                    f"its reseller {parent_number} (kept from the database: the file has no "
                    "reseller_number column)"
                )
            if parent_number is not None:
                if parent_number == number:
                    add_error(rel.line, f"relation {number} cannot be its own reseller")
                elif parent_number not in relations and parent_number not in db_relations:
                    add_error(
                        rel.line,
                        f"reseller_number {parent_number} is not a relation in the file or "
                        "the database",
                    )
                else:
                    if final_kind(parent_number) is not RelationKind.reseller:
                        add_error(rel.line, f"{parent} is a client, not a reseller")
                    if kind is RelationKind.reseller:
                        add_error(
                            rel.line,
                            f"relation {number} is a reseller and cannot have a reseller "
                            f"({parent})",
                        )
            if (
                existing is not None
                and existing.kind is RelationKind.reseller
                and kind is RelationKind.client
            ):
                demoted[existing.id] = rel
            if plan.has_sales and rel.sales_email:
                key = rel.sales_email.lower()
                if key not in plan.sales_ids:
                    if key in others:
                        add_error(
                            rel.line,
                            f"sales_contact_email {rel.sales_email} belongs to a user without "
                            f"the {current_roles().sales} role",
                        )
                    else:
                        add_error(
                            rel.line,
                            f"sales_contact_email {rel.sales_email} is not the email of any user",
                        )

        # A reseller becoming a client must not keep clients the file does not move.
        if demoted:
            children: dict[int, list[int]] = {}
            for chunk in _chunks(list(demoted), _LOOKUP_CHUNK):
                for child_number, parent_id in session.execute(
                    select(Relation.number, Relation.parent_id).where(Relation.parent_id.in_(chunk))
                ):
                    if child_number in relations:
                        continue  # checked above with the file's (or its kept) reseller
                    children.setdefault(parent_id, []).append(child_number)
            for parent_id, numbers in children.items():
                rel = demoted[parent_id]
                numbers.sort()
                shown = ", ".join(map(str, numbers[:5])) + (", ..." if len(numbers) > 5 else "")
                add_error(
                    rel.line,
                    f"relation {rel.number} cannot become a client: it is the reseller of "
                    f"relation{'s' if len(numbers) > 1 else ''} {shown}",
                )

        plan.db_domains = self._load_domains(list(plan.domains))

    def _load_relations_by(self, key: str, values: set[int]) -> Iterator[_DbRelation]:
        c = _RELATION.c
        column = c[key]
        query = select(
            c.id,
            c.number,
            c.name,
            c.billing_email,
            c.kind,
            c.parent_id,
            c.sales_contact_id,
            c.language,
        )
        for chunk in _chunks(sorted(values), _LOOKUP_CHUNK):
            for row in self.session.execute(query.where(column.in_(chunk))):
                yield _DbRelation(*row)

    def _sales_users(self, emails: set[str]) -> dict[str, int]:
        if not emails:
            return {}
        User = user_model()  # noqa: N806 (the host's user class)
        query = select(User.id, User.email).where(
            User.id.in_(user_ids_with_role(current_roles().sales))
        )
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(emails), _LOOKUP_CHUNK):
            for user_id, email in self.session.execute(
                query.where(func.lower(User.email).in_(chunk))
            ):
                found[email.lower()] = user_id
        return found

    def _users_by_email(self, emails: set[str]) -> set[str]:
        User = user_model()  # noqa: N806 (the host's user class)
        found: set[str] = set()
        for chunk in _chunks(sorted(emails), _LOOKUP_CHUNK):
            found.update(
                email.lower()
                for email in self.session.scalars(
                    select(User.email).where(func.lower(User.email).in_(chunk))
                )
            )
        return found

    def _load_domains(self, names: list[str]) -> dict[str, tuple[int, int, dt.date, DomainStatus]]:
        if not names:
            return {}
        c = _DOMAIN.c
        columns = (c.name, c.id, c.relation_id, c.expiry_date, c.status)
        total = self.session.scalar(select(func.count()).select_from(_DOMAIN)) or 0
        if total <= 2 * len(names):
            # Most of the table is named by the file: one scan beats many IN lookups.
            wanted = set(names)
            dates = bulk_rows.StoredValues(self.session, _DOMAIN, "expiry_date")
            statuses = bulk_rows.StoredValues(self.session, _DOMAIN, "status")
            return {
                name: (domain_id, relation_id, dates[expiry], statuses[status])
                for name, domain_id, relation_id, expiry, status in bulk_rows.scan(
                    self.session, _DOMAIN, [column.name for column in columns]
                )
                if name in wanted
            }
        found = {}
        for chunk in _chunks(names, _LOOKUP_CHUNK):
            for name, domain_id, relation_id, expiry, status in self.session.execute(
                select(*columns).where(c.name.in_(chunk))
            ):
                found[name] = (domain_id, relation_id, expiry, status)
        return found


_NOT_UTF8 = 'the file is not UTF-8 text; save it as "CSV UTF-8" and try again'
_NUL_BYTE = "contains a NUL byte (0x00), which text cannot hold; is this a CSV file?"
_NOT_UTF8_NEAR = (
    "the file is not UTF-8 text (the first invalid byte is on this line or a later one); "
    'save it as "CSV UTF-8" and try again'
)


def _parse_number(text: str) -> int | None:
    if _DIGITS.fullmatch(text) and 0 < int(text) <= _NUMBER_MAX:
        return int(text)
    return None


def _describe_domain(entry: tuple[int, int, dt.date, DomainStatus | None]) -> str:
    _, number, expiry, status = entry
    text = f"relation {number}, expiry {expiry.isoformat()}"
    if status is not None:
        text += f", status {status.value}"
    return text


def _show(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, RelationKind):
        return repr(value.value)
    return repr(value)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Writing -------------------------------------------------------------------------------------


def _write(session: Session, plan: _Plan, progress: Progress = _no_progress) -> ImportSummary:
    now = utcnow()
    summary = ImportSummary(rows=plan.rows)
    db_relations = plan.db_relations
    relation_ids = {number: row.id for number, row in db_relations.items()}

    # New relations: resellers first (a reseller never has a parent), then clients, whose
    # parents then all have ids.
    new = [rel for number, rel in plan.relations.items() if number not in db_relations]
    for group in (
        [rel for rel in new if rel.kind is RelationKind.reseller],
        [rel for rel in new if rel.kind is not RelationKind.reseller],
    ):
        kinds = bulk_rows.DriverValues(session, _RELATION, "kind")
        flags = bulk_rows.DriverValues(session, _RELATION, "reminders_to_reseller")
        stamp = bulk_rows.DriverValues(session, _RELATION, "created_at")[now]
        for chunk in _chunks(group, _WRITE_CHUNK):
            bulk_rows.insert_rows(
                session,
                _RELATION,
                _RELATION_INSERT,
                [
                    (
                        rel.number,
                        rel.name,
                        rel.email,
                        kinds[rel.kind],
                        relation_ids[rel.reseller_number]
                        if rel.reseller_number is not None
                        else None,
                        plan.sales_ids[rel.sales_email.lower()] if rel.sales_email else None,
                        rel.language,
                        flags[True],
                        # The model's default, which a driver-level insert does not apply.
                        first_link_version(),
                        stamp,
                        stamp,
                    )
                    for rel in chunk
                ],
            )
            # Then a lookup of the new ids (a driver-level insert returns none).
            numbers = [rel.number for rel in chunk]
            for numbers_chunk in _chunks(numbers, _LOOKUP_CHUNK):
                found = session.execute(
                    select(_RELATION.c.number, _RELATION.c.id).where(
                        _RELATION.c.number.in_(numbers_chunk)
                    )
                )
                relation_ids.update({number: rid for number, rid in found})
    summary.relations_created = len(new)

    # Existing relations: update only what differs.
    updates = []
    for number, rel in plan.relations.items():
        existing = db_relations.get(number)
        if existing is None:
            continue
        values = {
            "id": existing.id,
            "name": rel.name,
            "billing_email": rel.email,
            "kind": rel.kind if plan.has_kind else existing.kind,
            "parent_id": (
                relation_ids[rel.reseller_number] if rel.reseller_number is not None else None
            )
            if plan.has_reseller
            else existing.parent_id,
            "sales_contact_id": (
                plan.sales_ids[rel.sales_email.lower()] if rel.sales_email else None
            )
            if plan.has_sales
            else existing.sales_contact_id,
            "language": rel.language if plan.has_language else existing.language,
        }
        current = dataclasses.asdict(existing)
        if any(values[key] != current[key] for key in values):
            values["updated_at"] = now
            updates.append(values)
    # Where the customer emails of these relations' domains went (a change of address or of
    # reseller is a change of recipient: see the end).
    emails_before = lifecycle.customer_emails(session, [values["id"] for values in updates])
    # Through the ORM's bulk UPDATE, not ``bulk_rows``: its ``do_orm_execute`` hook raises
    # ``link_version`` of every relation whose billing address changes (``models.relation``).
    for chunk in _chunks(updates, _WRITE_CHUNK):
        session.execute(update(Relation), chunk)
    summary.relations_updated = len(updates)
    summary.relations_unchanged = len(plan.relations) - len(new) - len(updates)

    # Domains.
    inserts: list[tuple] = []  # in the order of _DOMAIN_INSERT
    changes: list[tuple] = []  # id, then _DOMAIN_UPDATE
    moved: dict[int, list[int]] = {}  # new relation id -> domain ids
    db_domains = plan.db_domains
    dates = bulk_rows.DriverValues(session, _DOMAIN, "expiry_date")
    statuses = bulk_rows.DriverValues(session, _DOMAIN, "status")
    stamp = bulk_rows.DriverValues(session, _DOMAIN, "updated_at")[now]
    active = statuses[DomainStatus.active]
    for name, (_line, number, expiry, status) in plan.domains.items():
        relation_id = relation_ids[number]
        existing = db_domains.get(name)
        if existing is None:
            inserts.append(
                (
                    name,
                    relation_id,
                    dates[expiry],
                    active if status is None else statuses[status],
                    stamp,
                    stamp,
                )
            )
            continue
        domain_id, old_relation_id, old_expiry, old_status = existing
        if status is None:
            status = status_after_expiry_change(old_status, old_expiry, expiry)
        if relation_id != old_relation_id or expiry != old_expiry or status != old_status:
            changes.append((domain_id, relation_id, dates[expiry], statuses[status], stamp))
            if relation_id != old_relation_id:
                moved.setdefault(relation_id, []).append(domain_id)
    total, written = len(inserts) + len(changes), 0
    progress(WRITING, 0, total)
    for chunk in _chunks(inserts, _WRITE_CHUNK):
        bulk_rows.insert_rows(session, _DOMAIN, _DOMAIN_INSERT, chunk)
        written += len(chunk)
        progress(WRITING, written, total)
    for chunk in _chunks(changes, _WRITE_CHUNK):
        bulk_rows.update_rows(session, _DOMAIN, "id", _DOMAIN_UPDATE, chunk)
        written += len(chunk)
        progress(WRITING, written, total)
    _start_clean(session, moved, relation_ids, emails_before)
    summary.domains_created = len(inserts)
    summary.domains_updated = len(changes)
    summary.domains_unchanged = len(plan.domains) - len(inserts) - len(changes)
    return summary


def _start_clean(
    session: Session,
    moved: dict[int, list[int]],
    relation_ids: dict[int, int],
    emails_before: dict[int, str],
) -> None:
    """Domains that moved to another relation (``moved``: new relation id -> domain ids), or
    whose customer emails now go elsewhere, start clean (``lifecycle.holder_changed``)."""
    numbers = {rid: number for number, rid in relation_ids.items()}
    for number, domain_ids in sorted((numbers[rid], ids) for rid, ids in moved.items()):
        lifecycle.holder_changed(
            session, domain_ids, f"the portfolio import moved the domain to relation #{number}"
        )
    lifecycle.recipients_changed(
        session,
        emails_before,
        "the portfolio import changed where the customer emails of the domain go",
        moved=[domain_id for ids in moved.values() for domain_id in ids],
    )
