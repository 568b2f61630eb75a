"""Expiry dates: one accepted range (1985-01-01 to today + 11 years) for the import, the Admin
forms and the queue's manual date; pages and jobs tolerate dates stored outside it."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from renewal_reminder import settings
from renewal_reminder.jobs import run_processing, run_reminders
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals import calendar
from renewal_reminder.renewals.mailer import MailSettings
from renewal_reminder.renewals.portfolio import PortfolioImportError, import_portfolio
from renewal_reminder.renewals.registrars import renewed_expiry
from renewal_reminder.renewals.registrars.manual import check_new_expiry
from renewal_reminder.renewals.sales_digest import send_sales_digests
from renewal_reminder.renewals.validation import InvalidValue, check_expiry_date, latest_expiry
from renewal_reminder.session import current_session
from tests.conftest import login

TODAY = dt.date.today()
LATEST = latest_expiry(TODAY)
HEADER = "domain,expiry_date,relation_number,relation_name,relation_email"
EXTREMES = (
    dt.date(1, 1, 1),
    dt.date(1, 1, 2),
    dt.date(9999, 12, 31),
    dt.date(9999, 1, 31),
    dt.date(1, 3, 31),
)


def years_from_today(years: int) -> dt.date:
    return TODAY + relativedelta(years=years)


# --- the rule ---------------------------------------------------------------------------------


def test_the_range_is_1985_to_eleven_years_ahead():
    assert check_expiry_date(dt.date(1985, 1, 1), TODAY) == dt.date(1985, 1, 1)
    assert years_from_today(11) == LATEST
    assert check_expiry_date(LATEST, TODAY) == LATEST
    for bad in (dt.date(1984, 12, 31), LATEST + dt.timedelta(days=1), *EXTREMES):
        with pytest.raises(InvalidValue, match="out of range: it must be from 1985-01-01 to"):
            check_expiry_date(bad, TODAY)
    assert latest_expiry(dt.date(2028, 2, 29)) == dt.date(2039, 2, 28)
    assert latest_expiry(dt.date(9990, 1, 1)) == dt.date.max


def test_date_arithmetic_clamps_at_the_calendar_ends():
    assert calendar.shifted(dt.date.max, dt.timedelta(days=1)) == dt.date.max
    assert calendar.shifted(dt.date.min, dt.timedelta(days=-1)) == dt.date.min
    assert renewed_expiry(dt.date(9999, 6, 1), 2) == dt.date.max
    offsets = calendar.parse_offsets(calendar.DEFAULT_OFFSETS + ",+3d")
    for expiry in EXTREMES:
        calendar.current_offset(offsets, expiry, TODAY)
        calendar.due_offset(offsets, expiry, TODAY, 3)
        for offset in offsets:
            offset.reminder_date(expiry)
    assert calendar.due_offset(offsets, dt.date(1, 1, 1), TODAY, 3) is None
    assert calendar.due_offset(offsets, dt.date(9999, 12, 31), TODAY, 3) is None
    with pytest.raises(Exception, match="later than the current one"):
        check_new_expiry(TODAY, dt.date(9999, 12, 31), 2, TODAY)


# --- the import -------------------------------------------------------------------------------


def import_rows(session, *rows: str):
    text = "\n".join([HEADER, *rows]) + "\n"
    return import_portfolio(session, io.StringIO(text, newline=""), today=TODAY)


def test_import_refuses_dates_outside_the_range_with_line_numbers(app, session):
    too_late = years_from_today(12).isoformat()
    rows = [
        "ok.com,2030-01-01,1,One,one@example.com",
        "old.com,1984-12-31,1,One,one@example.com",
        "ancient.com,0001-01-01,1,One,one@example.com",
        "forever.com,9999-12-31,1,One,one@example.com",
        f"later.com,{too_late},1,One,one@example.com",
        "again.com,9999-12-31,1,One,one@example.com",
    ]
    with pytest.raises(PortfolioImportError) as info:
        import_rows(session, *rows)
    errors = [(error.line, error.message) for error in info.value.errors]
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7]
    assert all(message.startswith("expiry_date: the expiry date ") for _, message in errors)
    assert "1984-12-31 is out of range" in errors[0][1]
    assert "0001-01-01 is out of range" in errors[1][1]
    assert "9999-12-31 is out of range" in errors[2][1]
    assert f"{too_late} is out of range" in errors[3][1]
    assert f"from 1985-01-01 to {LATEST.isoformat()}" in errors[0][1]
    assert str(info.value).startswith("the file has 5 errors:\nline 3: expiry_date: the expiry")
    assert session.scalar(select(func.count()).select_from(Domain)) == 0


def test_import_accepts_the_boundary_dates(app, session):
    summary = import_rows(
        session,
        "first.com,1985-01-01,1,One,one@example.com",
        f"last.com,{LATEST.isoformat()},1,One,one@example.com",
    )
    assert summary.domains_created == 2
    dates = dict(session.execute(select(Domain.name, Domain.expiry_date)).all())
    assert dates == {"first.com": dt.date(1985, 1, 1), "last.com": LATEST}


def test_cli_import_reports_the_line(app, session, tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_text(f"{HEADER}\nforever.com,9999-12-31,1,One,one@example.com\n")
    result = app.test_cli_runner().invoke(args=["domains", "import", str(path)])
    assert result.exit_code != 0
    assert "line 2: expiry_date: the expiry date 9999-12-31 is out of range" in result.output
    assert session.scalar(select(func.count()).select_from(Domain)) == 0


def test_admin_upload_reports_the_line(client, world, session):
    login(client, world.admin.username)
    content = f"{HEADER}\nancient.com,0001-01-01,300,Up,up@example.com\n".encode()
    response = client.post(
        "/portfolio-import/form",
        data={"csv_file": (io.BytesIO(content), "portfolio.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "line 2: expiry_date: the expiry date 0001-01-01 is out of range" in html
    assert session.scalar(select(Domain).where(Domain.name == "ancient.com")) is None


# --- the Admin forms --------------------------------------------------------------------------


def domain_form(world, **overrides) -> dict:
    form = {
        "name": "new-domain.com",
        "relation": str(world.c1.id),
        "expiry_date": (TODAY + dt.timedelta(days=50)).isoformat(),
        "status": "active",
        "renewal_years": "",
        "notes": "",
    }
    form.update(overrides)
    return form


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "1984-12-31", years_from_today(12).isoformat()]
)
def test_domain_forms_refuse_dates_outside_the_range(client, world, session, value):
    login(client, world.admin.username)
    response = client.post("/domains/add", data=domain_form(world, expiry_date=value))
    assert response.status_code == 200
    assert f"the expiry date {value} is out of range" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Domain).where(Domain.name == "new-domain.com")) is None

    before = world.d_c1.expiry_date
    response = client.post(
        f"/domains/edit/{world.d_c1.id}",
        data=domain_form(world, name="client-one.com", expiry_date=value),
    )
    assert response.status_code == 200
    assert f"the expiry date {value} is out of range" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).expiry_date == before


@pytest.mark.parametrize("value", ["1985-01-01", LATEST.isoformat()])
def test_domain_forms_accept_the_boundary_dates(client, world, session, value):
    login(client, world.admin.username)
    response = client.post("/domains/add", data=domain_form(world, expiry_date=value))
    assert response.status_code == 302
    domain = session.scalar(select(Domain).where(Domain.name == "new-domain.com"))
    assert domain.expiry_date.isoformat() == value


# --- the queue's manual date ------------------------------------------------------------------


def decide(session, domain, decision=Decision.renew, years=1):
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.sales,
    )
    domain.status = (
        DomainStatus.renewal_confirmed
        if decision is Decision.renew
        else DomainStatus.renewal_declined
    )
    session.add(row)
    session.commit()
    return row


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "+99999-01-01", "2030-1-1", "2030-W01-1", "20300101"]
)
def test_queue_refuses_a_manual_date_outside_the_range(client, world, session, value):
    decision = decide(session, world.d_c1)
    login(client, world.sales_a.username)
    response = client.post(
        "/queue/execute",
        data={"rowid": [str(decision.id)], f"new_expiry-{decision.id}": value},
        follow_redirects=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nothing was executed" in html
    assert "out of range" in html or "is not a date" in html
    session.expire_all()
    assert session.get(RenewalDecision, decision.id).state is ProcessingState.queued
    assert session.get(Domain, world.d_c1.id).expiry_date == world.d_c1.expiry_date


# --- dates already stored outside the range ---------------------------------------------------


@pytest.fixture
def extremes(world, session):
    """Domains of C1 (sales A) stored with dates no form accepts, some of them decided."""
    domains = []
    for number, expiry in enumerate(EXTREMES):
        domain = Domain(name=f"extreme{number}.com", relation=world.c1, expiry_date=expiry)
        session.add(domain)
        domains.append(domain)
    session.commit()
    decisions = (Decision.renew, Decision.decline, Decision.renew, None, None)
    for domain, decision in zip(domains, decisions, strict=True):
        if decision is not None:
            decide(session, domain, decision, years=2)
    return domains


@pytest.mark.parametrize(
    "path",
    [
        "/home/",
        "/queue/",
        "/renewals/?relation=101",
        "/renewals/?relation=100",
        "/expirations/",
        "/expirations/?window=expired",
        "/expirations/?window=this_month",
        "/expirations/export.csv?window=expired",
        "/domains/list/",
        "/domains/list/?_oc_RenewalsDomainView=expiry_date&_od_RenewalsDomainView=desc",
        "/domains/export.csv",
        "/decisions/list/",
    ],
)
def test_pages_tolerate_stored_extreme_dates(client, world, extremes, path):
    login(client, world.sales_a.username)
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]


def test_queue_shows_and_executes_stored_extreme_dates(client, world, session, extremes):
    login(client, world.sales_a.username)
    html = client.get("/queue/").get_data(as_text=True)
    assert "extreme0.com" in html and "extreme2.com" in html
    queued = session.scalars(select(RenewalDecision.id)).all()
    response = client.post(
        "/queue/execute",
        data={"rowid": [str(i) for i in queued], **{f"new_expiry-{i}": "" for i in queued}},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert client.get("/queue/").status_code == 200


def test_show_and_edit_pages_tolerate_stored_extreme_dates(client, world, extremes):
    login(client, world.admin.username)
    for domain in extremes:
        assert client.get(f"/domains/show/{domain.id}").status_code == 200
        assert client.get(f"/domains/edit/{domain.id}").status_code == 200


def test_customer_page_tolerates_stored_extreme_dates(client, world, extremes):
    login(client, world.client1_login.username)
    response = client.get("/renewals/")
    assert response.status_code == 200
    assert "extreme0.com" in response.get_data(as_text=True)


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
def test_jobs_tolerate_stored_extreme_dates(app, world, extremes, smtp):
    assert run_reminders(app, TODAY).ok
    run_processing(app, TODAY)
    with app.app_context():
        summary = send_sales_digests(
            current_session(),
            app.extensions["renewal_reminder"].mail,
            MailSettings.from_config(settings.read(app.config)),
            TODAY,
        )
    assert summary.ok
