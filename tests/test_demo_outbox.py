"""The demo shows its emails: a local SMTP sink writes them to the instance folder, the
Admin's Demo outbox page lists and shows them, and other processes of the demo find the sink."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from renewal_reminder import demo_mail
from tests.conftest import client_of, login


def _send(port: int, subject: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = "renewals@reseller.example"
    message["To"] = "customer@example.com"
    message["Subject"] = subject
    message.set_content("Plain text of " + subject)
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)


@pytest.fixture
def sink(tmp_path):
    controller = demo_mail.start_sink(tmp_path)
    yield controller, tmp_path
    controller.stop()


def test_the_sink_keeps_every_email_and_other_processes_find_it(sink):
    controller, folder = sink
    _send(controller.port, "First")
    _send(controller.port, "Second")
    assert [e.subject for e in demo_mail.newest(folder)] == ["Second", "First"]
    assert demo_mail.running_sink_port(folder) == controller.port

    config: dict = {}
    demo_mail.use_running_sink(config, folder, environ={})
    assert config["MAIL_SERVER"] == "127.0.0.1" and config["MAIL_PORT"] == controller.port
    chosen: dict = {}
    demo_mail.use_running_sink(chosen, folder, environ={"MAIL_SERVER": "smtp.example.com"})
    assert chosen == {}  # a configured mail server always wins


def test_no_sink_no_change(tmp_path):
    config: dict = {}
    demo_mail.use_running_sink(config, tmp_path, environ={})
    assert config == {} and demo_mail.running_sink_port(tmp_path) is None


def test_an_email_id_cannot_name_a_path(sink):
    _, folder = sink
    for bad in ("../secret_key", "1/../../x", "", "１２３"):
        assert demo_mail.one(folder, bad) is None


@pytest.mark.fresh_app
@pytest.mark.app_config(RENEWALS_DEMO_MODE=True, FAB_UPDATE_PERMS=True)
def test_admin_reads_the_demo_outbox(app, client, world):
    controller = demo_mail.start_sink(app.instance_path)
    try:
        _send(controller.port, "Your domains expire", html="<p><b>client-one.com</b></p>")
    finally:
        controller.stop()
    login(client, world.admin.username)
    listing = client.get("/demo-outbox/").get_data(as_text=True)
    assert "Your domains expire" in listing
    email_id = demo_mail.newest(app.instance_path)[0].id
    page = client.get(f"/demo-outbox/{email_id}").get_data(as_text=True)
    assert "Plain text of Your domains expire" in page
    assert 'sandbox=""' in page and "&lt;b&gt;client-one.com" in page
    assert client.get("/demo-outbox/123").status_code == 404

    sales = client_of(app)
    login(sales, world.sales_a.username)
    assert sales.get("/demo-outbox/").status_code in (302, 403)


def test_outside_demo_mode_there_is_no_outbox(client, world):
    login(client, world.admin.username)
    assert client.get("/demo-outbox/").status_code == 404


@pytest.mark.fresh_app
@pytest.mark.app_config(RENEWALS_DEMO_MODE=True, FAB_UPDATE_PERMS=True)
def test_the_demo_outbox_in_a_browser(app, world, live_url, browser_page):
    from tests.conftest import screenshot
    from tests.test_phone_browser import sign_in

    controller = demo_mail.start_sink(app.instance_path)
    try:
        _send(controller.port, "Renewal reminder: 2 domainname(s) expiring", html="<p>Hi</p>")
    finally:
        controller.stop()
    page = browser_page
    sign_in(page, live_url, world.admin.username)
    page.goto(f"{live_url}/demo-outbox/")
    page.click("text=Renewal reminder: 2 domainname(s) expiring")
    page.wait_for_selector("text=Plain text of Renewal reminder")
    assert page.frame_locator("iframe").locator("text=Hi").count() == 1
    screenshot(page, "demo-outbox-email")


def test_commands_beside_the_demo_link_to_where_it_runs(tmp_path):
    demo_mail.remember_base_url(tmp_path, "http://127.0.0.1:5099")
    config: dict = {"RENEWALS_BASE_URL": "http://127.0.0.1:5000"}
    demo_mail.use_demo_base_url(config, tmp_path, environ={})
    assert config["RENEWALS_BASE_URL"] == "http://127.0.0.1:5099"
    kept: dict = {"RENEWALS_BASE_URL": "https://renewals.example.com"}
    demo_mail.use_demo_base_url(
        kept, tmp_path, environ={"BASE_URL": "https://renewals.example.com"}
    )
    assert kept["RENEWALS_BASE_URL"] == "https://renewals.example.com"
