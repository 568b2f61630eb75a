"""The portfolio CSV import: upserts, the expiry rule, and all-or-nothing rejection."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select, text, update

from renewal_reminder.models import Domain, DomainStatus, Relation, RelationKind
from renewal_reminder.renewals.portfolio import (
    ImportSummary,
    PortfolioImportError,
    RowError,
    import_portfolio,
)

HEADER = (
    "domain,expiry_date,relation_number,relation_name,relation_email,"
    "relation_kind,reseller_number,sales_contact_email,language,status"
)

#: Reseller 10 (sales contact, Dutch) with client 11; client 12 without a reseller.
#: The client's row comes before its reseller's on purpose.
BASE_ROWS = [
    "shop-11.nl,2030-03-01,11,Client Eleven,billing@eleven.nl,client,10,,nl,",
    "reseller.nl,2030-01-01,10,Reseller Ten,admin@reseller.nl,reseller,,sales@example.com,nl,",
    "bücher.de,2030-02-01,12,Client Twelve,books@twelve.de,,,,,",
    "twelve.com,2030-04-01,12,Client Twelve,books@twelve.de,client,,,en,renewal_confirmed",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run(session, text: str) -> ImportSummary:
    return import_portfolio(session, io.StringIO(text, newline=""))


def snapshot(session) -> tuple[list, list]:
    """Every column of every relation and domain row, to prove nothing changed."""
    relations = session.execute(select(Relation.__table__).order_by(Relation.number)).all()
    domains = session.execute(select(Domain.__table__).order_by(Domain.name)).all()
    return relations, domains


def relation(session, number: int) -> Relation:
    return session.scalar(select(Relation).where(Relation.number == number))


def domain(session, name: str) -> Domain:
    return session.scalar(select(Domain).where(Domain.name == name))


@pytest.fixture
def sales(make_user):
    return make_user("sales@example.com", "Sales")


@pytest.fixture
def imported(session, sales):
    """The base file, imported."""
    return run(session, csv_text(*BASE_ROWS))


# --- happy path ------------------------------------------------------------------------------


def test_import_creates_relations_and_domains(session, sales, imported):
    assert imported == ImportSummary(rows=4, relations_created=3, domains_created=4)
    assert str(imported) == (
        "4 rows: relations 3 created, 0 updated, 0 unchanged; "
        "domains 4 created, 0 updated, 0 unchanged"
    )
    reseller, client, direct = (relation(session, n) for n in (10, 11, 12))
    assert reseller.kind is RelationKind.reseller and reseller.parent is None
    assert reseller.sales_contact_id == sales.id
    assert reseller.language == "nl"
    assert client.kind is RelationKind.client
    assert client.parent_id == reseller.id
    assert client.billing_email == "billing@eleven.nl"
    assert client.sales_contact_id is None
    assert direct.kind is RelationKind.client and direct.parent is None
    assert direct.language == "en"

    idn = domain(session, "xn--bcher-kva.de")
    assert idn is not None and idn.unicode_name == "bücher.de"
    assert idn.relation_id == direct.id
    assert idn.expiry_date == dt.date(2030, 2, 1)
    assert idn.status is DomainStatus.active
    assert domain(session, "twelve.com").status is DomainStatus.renewal_confirmed
    assert domain(session, "shop-11.nl").relation_id == client.id
    assert idn.created_at is not None and idn.updated_at is not None
    assert not session.new and not session.dirty


def test_driver_level_writes_store_what_the_orm_would(session, sales, imported):
    """The import writes at driver level (``bulk_rows``): every column a model default would
    fill is filled the same way (a random first link version, timestamps, the reminders
    flag), and the stored text reads back as the ORM's own writes do."""
    relations = session.scalars(select(Relation).order_by(Relation.number)).all()
    assert all(rel.reminders_to_reseller is True for rel in relations)
    assert all(1 <= rel.link_version <= 2**30 for rel in relations)
    assert len({rel.link_version for rel in relations}) > 1  # random, not the server default
    for row in [*relations, *session.scalars(select(Domain)).all()]:
        assert isinstance(row.created_at, dt.datetime) and row.created_at == row.updated_at
    orm = Domain(
        name="orm-written.nl",
        relation_id=relations[0].id,
        expiry_date=dt.date(2030, 2, 1),
        status=DomainStatus.active,
    )
    session.add(orm)
    session.commit()
    # As stored, past SQLAlchemy's types (SQLite keeps dates and times as text).
    raw = text("SELECT expiry_date, status, created_at FROM rr_domain WHERE name = :name")
    by_orm = session.execute(raw, {"name": "orm-written.nl"}).one()
    by_import = session.execute(raw, {"name": "xn--bcher-kva.de"}).one()
    assert by_import[:2] == by_orm[:2]
    assert type(by_import[2]) is type(by_orm[2])
    assert len(str(by_import[2])) == len(str(by_orm[2]))


def test_reimport_changes_nothing(session, imported):
    before = snapshot(session)
    again = run(session, csv_text(*BASE_ROWS))
    assert again == ImportSummary(rows=4, relations_unchanged=3, domains_unchanged=4)
    assert snapshot(session) == before  # updated_at included


def test_ascii_and_unicode_spelling_are_the_same_domain(session, imported):
    rows = [*BASE_ROWS]
    rows[2] = rows[2].replace("bücher.de", "XN--BCHER-KVA.DE.")
    assert run(session, csv_text(*rows)).domains_unchanged == 4


def test_new_expiry_dates_update_domains_and_apply_the_status_rule(session, imported):
    session.execute(
        update(Domain)
        .where(Domain.name.in_(["reseller.nl", "shop-11.nl"]))
        .values(status=DomainStatus.renewal_confirmed)
    )
    session.execute(
        update(Domain)
        .where(Domain.name == "xn--bcher-kva.de")
        .values(status=DomainStatus.deactivated)
    )
    session.commit()
    before = {d.name: d.updated_at for d in session.scalars(select(Domain))}

    rows = [
        # later: a new cycle, renewed
        "reseller.nl,2031-01-01,10,Reseller Ten,admin@reseller.nl,reseller,,sales@example.com,nl,",
        # earlier (a correction): the confirmation no longer applies, active again
        "shop-11.nl,2030-02-01,11,Client Eleven,billing@eleven.nl,client,10,,nl,",
        # out of the cycle: stays deactivated
        "bücher.de,2031-02-01,12,Client Twelve,books@twelve.de,,,,,",
        # an explicit status wins over the rule
        "twelve.com,2031-04-01,12,Client Twelve,books@twelve.de,client,,,en,active",
    ]
    summary = run(session, csv_text(*rows))
    assert summary == ImportSummary(rows=4, relations_unchanged=3, domains_updated=4)

    session.expire_all()
    assert domain(session, "reseller.nl").status is DomainStatus.renewed
    assert domain(session, "reseller.nl").expiry_date == dt.date(2031, 1, 1)
    assert domain(session, "shop-11.nl").status is DomainStatus.active
    assert domain(session, "xn--bcher-kva.de").status is DomainStatus.deactivated
    assert domain(session, "twelve.com").status is DomainStatus.active
    for name, updated_at in before.items():
        assert domain(session, name).updated_at > updated_at


def test_changed_relation_data_and_moved_domain(session, imported, make_user):
    other = make_user("other-sales@example.com", "Sales")
    untouched = relation(session, 11).updated_at
    rows = [
        *BASE_ROWS[:2],
        # relation 12 renamed and handed to a sales contact (case-insensitive email match);
        # twelve.com moves to reseller 10
        "bücher.de,2030-02-01,12,Twelve B.V.,books@twelve.de,client,,Other-Sales@Example.com,en,",
        "twelve.com,2030-04-01,10,Reseller Ten,admin@reseller.nl,reseller,,sales@example.com,nl,"
        "renewal_confirmed",
    ]
    summary = run(session, csv_text(*rows))
    assert summary == ImportSummary(
        rows=4,
        relations_updated=1,
        relations_unchanged=2,
        domains_updated=1,
        domains_unchanged=3,
    )
    session.expire_all()
    twelve = relation(session, 12)
    assert twelve.name == "Twelve B.V." and twelve.sales_contact_id == other.id
    assert domain(session, "twelve.com").relation.number == 10
    assert relation(session, 11).updated_at == untouched


def test_columns_absent_from_the_header_keep_existing_values(session, sales, imported):
    header = "domain,expiry_date,relation_number,relation_name,relation_email"
    rows = [
        "reseller.nl,2030-01-01,10,Reseller Ten,admin@reseller.nl",
        "shop-11.nl,2030-03-01,11,Client Eleven,billing@eleven.nl",
        "new-domain.nl,2030-05-01,13,New Client,new@client.nl",
    ]
    summary = run(session, csv_text(*rows, header=header))
    assert summary.relations_unchanged == 2 and summary.relations_created == 1
    reseller = relation(session, 10)
    assert reseller.kind is RelationKind.reseller
    assert reseller.sales_contact_id == sales.id and reseller.language == "nl"
    assert relation(session, 11).parent_id == reseller.id
    new = relation(session, 13)
    assert new.kind is RelationKind.client and new.parent_id is None and new.language == "en"


def test_empty_cells_in_present_columns_clear_reseller_and_sales_contact(session, imported):
    rows = [
        "reseller.nl,2030-01-01,10,Reseller Ten,admin@reseller.nl,reseller,,,nl,",
        "shop-11.nl,2030-03-01,11,Client Eleven,billing@eleven.nl,client,,,nl,",
    ]
    assert run(session, csv_text(*rows)).relations_updated == 2
    assert relation(session, 10).sales_contact_id is None
    assert relation(session, 11).parent_id is None


def test_file_conveniences(session, sales):
    """BOM, blank lines, whitespace, header case and order, unknown columns, CRLF, quoting."""
    text = (
        "\ufeff Relation_Number , DOMAIN,expiry_date,notes,relation_name,relation_email\r\n"
        "\r\n"
        ' 7 , Example.COM. , 2030-01-01 ,"anything, really"," Seven, Ltd ", a@Example.COM \r\n'
        "   ,  ,  ,  ,  ,  \r\n"
        "\r\n"
        '7,second.example,2030-06-30,,"Seven, Ltd",a@example.com\r\n'
    )
    summary = run(session, text)
    assert summary == ImportSummary(rows=2, relations_created=1, domains_created=2)
    seven = relation(session, 7)
    assert seven.name == "Seven, Ltd" and seven.billing_email == "a@example.com"
    assert domain(session, "example.com").expiry_date == dt.date(2030, 1, 1)


def test_semicolon_separated_file(session):
    text = "domain;expiry_date;relation_number;relation_name;relation_email\n"
    text += "voorbeeld.nl;2030-01-01;5;Vijf;vijf@voorbeeld.nl\n"
    assert run(session, text).domains_created == 1


def test_binary_stream_with_bom(session):
    data = csv_text("bücher.de,2030-02-01,12,Zwölf,z@example.de,,,,,").encode("utf-8")
    summary = import_portfolio(session, io.BytesIO(b"\xef\xbb\xbf" + data))
    assert summary.domains_created == 1
    assert relation(session, 12).name == "Zwölf"


def test_same_row_twice_is_fine(session):
    row = "dup.nl,2030-01-01,5,Five,five@example.nl,,,,,"
    assert run(session, csv_text(row, row)) == ImportSummary(
        rows=2, relations_created=1, domains_created=1
    )


def test_header_only_imports_nothing(session):
    assert run(session, HEADER + "\n") == ImportSummary()


# --- rejected files --------------------------------------------------------------------------

#: Three good rows (an update, a new domain for an existing relation, a new relation) before
#: the bad row on line 5: none of them may be written.
GOOD_ROWS = [
    "reseller.nl,2031-01-01,10,Reseller Ten,admin@reseller.nl,reseller,,sales@example.com,nl,",
    "another.nl,2030-06-01,11,Client Eleven,billing@eleven.nl,client,10,,nl,",
    "brand-new.com,2030-07-01,99,Brand New,new@example.com,client,10,,en,",
]
#: A good row for a relation of its own; the parametrized cases break it in one place.
GOOD = "fine.org,2030-01-01,98,Fine Org,fine@example.org,client,10,,en,"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        pytest.param(GOOD.replace("2030-01-01", "2030-02-30"), "expiry_date", id="bad-date"),
        pytest.param(GOOD.replace("2030-01-01", "01-02-2030"), "YYYY-MM-DD", id="date-format"),
        pytest.param(GOOD.replace("fine.org", "fine..org"), "domain", id="bad-domain"),
        pytest.param(GOOD.replace("fine.org", "fine"), "top-level", id="no-tld"),
        pytest.param(GOOD.replace(",10,", ",77,"), "reseller_number 77", id="unknown-reseller"),
        pytest.param(GOOD.replace(",10,", ",12,"), "not a reseller", id="reseller-is-client"),
        pytest.param(GOOD.replace("fine.org", ""), "domain is empty", id="empty-domain"),
        pytest.param(GOOD.replace("Fine Org", ""), "relation_name is empty", id="empty-name"),
        pytest.param(GOOD.replace("fine@example.org", "fine@"), "relation_email", id="bad-email"),
        pytest.param(
            GOOD.replace(",,en,", ",nobody@example.com,en,"),
            "not the email of any user",
            id="unknown-sales-contact",
        ),
        pytest.param(
            GOOD.replace(",,en,", ",plain@example.com,en,"),
            "without the Sales role",
            id="sales-contact-without-role",
        ),
        pytest.param(GOOD + "expired", "status 'expired'", id="bad-status"),
        pytest.param(GOOD.replace("client", "customer"), "relation_kind", id="bad-kind"),
        pytest.param(GOOD.replace(",en,", ",de,"), "language 'de'", id="bad-language"),
        pytest.param(GOOD.replace(",98,", ",9x,"), "relation_number '9x'", id="bad-number"),
        pytest.param(GOOD.replace(",98,", ",0,"), "relation_number '0'", id="zero-number"),
        pytest.param(
            GOOD.replace("fine.org", "another.nl"), "also on line 3", id="duplicate-domain"
        ),
        pytest.param(
            GOOD.replace(",98,Fine Org,fine@example.org,", ",99,Other Name,new@example.com,"),
            "relation 99 has relation_name 'Other Name' here but 'Brand New' on line 4",
            id="conflicting-relation",
        ),
        pytest.param(GOOD + ",extra", "cells", id="too-many-cells"),
    ],
)
def test_a_bad_row_rejects_the_whole_file(session, imported, make_user, bad_row, message):
    make_user("plain", "Public", email="plain@example.com")
    before = snapshot(session)
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(*GOOD_ROWS, bad_row))
    errors = info.value.errors
    assert [error.line for error in errors] == [5], errors
    assert message in errors[0].message
    assert str(info.value) == f"the file has 1 error:\nline 5: {errors[0].message}"
    assert not session.new and not session.dirty and not session().in_transaction()
    assert snapshot(session) == before


def test_missing_required_column_is_reported_on_line_1(session, imported):
    header = HEADER.replace("relation_email,", "")
    rows = [row.replace(",admin@reseller.nl", "") for row in GOOD_ROWS[:1]]
    before = snapshot(session)
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(*rows, header=header))
    assert info.value.errors == [
        RowError(1, info.value.errors[0].message),
    ]
    assert "relation_email" in info.value.errors[0].message
    assert snapshot(session) == before


def test_empty_file(session):
    with pytest.raises(PortfolioImportError) as info:
        run(session, "")
    assert info.value.errors[0].line == 1 and "empty" in info.value.errors[0].message


def test_all_errors_are_reported_with_their_lines(session, imported):
    rows = [
        GOOD.replace("2030-01-01", "tomorrow"),
        GOOD.replace("fine.org", "good.org"),
        GOOD.replace("fine.org", "x_y.org").replace("fine@example.org", "nope"),
    ]
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(*rows))
    assert [error.line for error in info.value.errors] == [2, 4, 4]
    assert str(info.value).startswith("the file has 3 errors:\nline 2: expiry_date")


def test_error_list_is_capped(session):
    rows = [f"bad-{i}.org,never,{i + 1},R,r@example.com,,,,," for i in range(150)]
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(*rows))
    assert info.value.total == 150
    assert len(info.value.errors) == 100
    assert info.value.errors[0].line == 2
    assert "(the first 100 are listed)" in str(info.value)


def test_non_utf8_binary_file_names_the_line(session):
    data = csv_text(GOOD, GOOD.replace("Fine Org", "Caf\xe9")).encode("latin-1")
    with pytest.raises(PortfolioImportError) as info:
        import_portfolio(session, io.BytesIO(data))
    assert info.value.errors[0].line == 3
    assert "UTF-8" in info.value.errors[0].message
    assert session.scalar(select(Relation.id)) is None


def test_non_utf8_text_stream_is_a_clear_error(session):
    data = csv_text(GOOD.replace("Fine Org", "Caf\xe9")).encode("latin-1")
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    with pytest.raises(PortfolioImportError, match="not UTF-8"):
        import_portfolio(session, stream)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param(
            ["a.nl,2030-01-01,5,Five,f@example.nl,client,5,,,"],
            "cannot be its own reseller",
            id="own-reseller",
        ),
        pytest.param(
            [
                "a.nl,2030-01-01,5,Five,f@example.nl,reseller,,,,",
                "b.nl,2030-01-01,6,Six,s@example.nl,reseller,5,,,",
            ],
            "is a reseller and cannot have a reseller",
            id="reseller-under-reseller",
        ),
        pytest.param(
            ["reseller.nl,2030-01-01,10,Reseller Ten,admin@reseller.nl,client,,,nl,"],
            "cannot become a client: it is the reseller of relation 11",
            id="demote-reseller-with-clients",
        ),
    ],
)
def test_hierarchy_rules(session, imported, rows, message):
    before = snapshot(session)
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(*rows))
    assert message in str(info.value)
    assert snapshot(session) == before


def test_demoting_a_reseller_together_with_its_clients_is_fine(session, imported):
    rows = [
        "reseller.nl,2030-01-01,10,Reseller Ten,admin@reseller.nl,client,,,nl,",
        "shop-11.nl,2030-03-01,11,Client Eleven,billing@eleven.nl,client,,,nl,",
    ]
    assert run(session, csv_text(*rows)).relations_updated == 2
    assert relation(session, 10).kind is RelationKind.client


def test_reseller_from_the_database(session, imported):
    summary = run(session, csv_text("new-client.nl,2030-01-01,20,Twenty,t@example.nl,,10,,,"))
    assert summary == ImportSummary(rows=1, relations_created=1, domains_created=1)
    assert relation(session, 20).parent.number == 10


def test_a_kept_reseller_blocks_promotion_to_reseller(session, imported):
    header = "domain,expiry_date,relation_number,relation_name,relation_email,relation_kind"
    row = "shop-11.nl,2030-03-01,11,Client Eleven,billing@eleven.nl,reseller"
    with pytest.raises(PortfolioImportError) as info:
        run(session, csv_text(row, header=header))
    assert info.value.errors == [
        RowError(
            2,
            "relation 11 is a reseller and cannot have a reseller (its reseller 10 (kept from "
            "the database: the file has no reseller_number column))",
        )
    ]


def test_a_failure_while_writing_rolls_everything_back(session, imported, monkeypatch):
    """Relations are written before domains: a failure in between must leave no trace."""

    def explode(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr("renewal_reminder.renewals.portfolio.status_after_expiry_change", explode)
    before = snapshot(session)
    with pytest.raises(RuntimeError, match="boom"):
        run(session, csv_text(*GOOD_ROWS))
    assert snapshot(session) == before
