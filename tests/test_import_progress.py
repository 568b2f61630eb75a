"""Large portfolio imports show progress: the CLI draws a bar per stage, and an Admin upload
runs in the background with a page that follows it and ends on the kept result."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import Domain, ImportJob, ImportStatus
from renewal_reminder.renewals import import_jobs, portfolio
from renewal_reminder.renewals.portfolio import import_portfolio
from tests.conftest import login

HEADER = "domain,expiry_date,relation_number,relation_name,relation_email"


def csv_of(count: int, bad_line: int | None = None) -> bytes:
    rows = [HEADER]
    for i in range(count):
        expiry = "31-12-2027" if i + 2 == bad_line else "2027-06-01"
        rows.append(f"bulk-{i:05d}.com,{expiry},{500 + i % 7},Bulk {i % 7},bulk{i % 7}@example.com")
    return ("\n".join(rows) + "\n").encode()


def test_the_import_reports_its_progress_by_stage(session, monkeypatch):
    monkeypatch.setattr(portfolio, "_PROGRESS_EVERY", 100)
    monkeypatch.setattr(portfolio, "_WRITE_CHUNK", 250)
    seen = []
    import_portfolio(session, io.BytesIO(csv_of(1000)), progress=lambda *a: seen.append(a))
    checking = [done for stage, done, _ in seen if stage == portfolio.CHECKING]
    writing = [(done, total) for stage, done, total in seen if stage == portfolio.WRITING]
    assert checking and checking == sorted(checking) and checking[-1] >= 900
    assert writing[0] == (0, 1000) and writing[-1] == (1000, 1000)
    assert [done for done, _ in writing] == [0, 250, 500, 750, 1000]


def upload(client, content: bytes):
    return client.post(
        "/portfolio-import/form",
        data={"csv_file": (io.BytesIO(content), "big.csv")},
        content_type="multipart/form-data",
    )


@pytest.mark.app_config(RENEWALS_IMPORT_BACKGROUND_BYTES=0)
def test_a_large_upload_runs_in_the_background_and_lands_on_its_result(client, world, session):
    login(client, world.admin.username)
    response = upload(client, csv_of(300))
    assert response.status_code == 302 and "/portfolio-import/jobs/" in response.headers["Location"]
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    import_jobs.wait(job_id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Imported 300 rows" in html and 'http-equiv="refresh"' not in html
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Domain)) == 3 + 300
    assert session.get(ImportJob, job_id).status is ImportStatus.done


@pytest.mark.app_config(RENEWALS_IMPORT_BACKGROUND_BYTES=0)
def test_a_bad_large_upload_imports_nothing_and_keeps_the_lines(client, world, session):
    login(client, world.admin.username)
    response = upload(client, csv_of(300, bad_line=150))
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    import_jobs.wait(job_id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was imported" in html and "line 150" in html
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Domain)) == 3


def test_a_running_import_page_follows_the_progress(client, world, session, monkeypatch):
    job = import_jobs.create(session, filename="big.csv", size=123, user_id=world.admin.id)
    session.commit()
    monkeypatch.setitem(
        import_jobs._progress, job.id, import_jobs.Progress(portfolio.WRITING, 250, 1000)
    )
    login(client, world.admin.username)
    html = client.get(f"/portfolio-import/jobs/{job.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in html
    assert "Writing: 250 of 1,000 domains" in html and 'value="25"' in html


def test_a_job_nobody_finished_says_it_broke_off(client, world, session):
    import datetime as dt

    job = import_jobs.create(session, filename="big.csv", size=123, user_id=world.admin.id)
    job.started_at = job.started_at - dt.timedelta(hours=2)
    session.commit()
    login(client, world.admin.username)
    html = client.get(f"/portfolio-import/jobs/{job.id}").get_data(as_text=True)
    assert "broke off" in html and 'http-equiv="refresh"' not in html


def test_import_pages_are_admin_only(client, world, session):
    job = import_jobs.create(session, filename="x.csv", size=1, user_id=world.admin.id)
    session.commit()
    login(client, world.sales_a.username)
    assert client.get(f"/portfolio-import/jobs/{job.id}").status_code in (302, 403)
    assert client.get("/portfolio-import/jobs/999999").status_code in (302, 403, 404)


def test_the_cli_shows_a_bar_per_stage(app, tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_bytes(csv_of(20))
    result = app.test_cli_runner().invoke(args=["domains", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 20 rows" in result.output


def test_one_import_at_a_time(client, world, session):
    running = import_jobs.create(session, filename="big.csv", size=1, user_id=world.admin.id)
    session.commit()
    login(client, world.admin.username)
    response = upload(client, csv_of(3))
    assert "/portfolio-import/jobs/" not in response.headers.get("Location", "")
    page = client.get(response.headers["Location"], follow_redirects=True)
    html = page.get_data(as_text=True)  # the flash says why
    assert "another import" in html and f"/portfolio-import/jobs/{running.id}" in html
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 1
    assert session.scalar(select(func.count()).select_from(Domain)) == 3  # the world's only
