"""Pages show in the viewer's language (their choice, else their browser's), with
<html lang> saying which; the console stays readable."""

from __future__ import annotations

import logging

from renewal_reminder import console


def test_a_dutch_browser_gets_fabs_login_page_in_dutch(client):
    page = client.get("/login/", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Gebruikersnaam" in html  # FAB's own translation of "Username"


def test_an_english_or_unknown_browser_gets_english(client):
    html = client.get("/login/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Username" in html


def test_the_viewers_choice_beats_the_browser(client):
    client.get("/lang/en")  # FAB's language menu
    html = client.get("/login/", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert '<html lang="en">' in html


def test_pages_have_an_icon(client):
    html = client.get("/login/").get_data(as_text=True)
    assert 'rel="icon"' in html
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def _record(logger: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.INFO, __file__, 1, message, None, None)


def test_the_console_leaves_out_static_files_but_not_pages():
    quiet = console.QuietStaticFiles()
    css = '"GET /static/appbuilder/css/ab.css HTTP/1.1" 200 -'
    assert not quiet.filter(_record("werkzeug", css))
    assert not quiet.filter(_record("werkzeug", '"GET /static/favicon.svg HTTP/1.1" 304 -'))
    assert quiet.filter(_record("werkzeug", '"GET /static/missing.css HTTP/1.1" 404 -'))
    assert quiet.filter(_record("werkzeug", '"GET /queue/ HTTP/1.1" 200 -'))


def test_fab_redirect_warning_only_for_a_real_next_argument(app):
    only_real = console.RealInvalidRedirectsOnly()
    record = _record("flask_appbuilder.utils.base", "Invalid redirect detected, falling back")
    with app.test_request_context("/login/"):
        assert not only_real.filter(record)
    with app.test_request_context("/login/?next=https://evil.example/"):
        assert only_real.filter(record)


def test_a_dutch_customer_gets_dutch_menus_and_list_pages(app, world):
    from tests.conftest import client_in, login

    dutch = client_in(app, "nl")
    login(dutch, world.client1_login.username)
    html = dutch.get("/domains/list/").get_data(as_text=True)
    assert "Domeinnamen verlengen" in html and "Verlengingen" in html  # the product's menu
    assert "Vervaldatum" in html and "Dagen te gaan" in html  # the list's columns
    assert "Renew domains" not in html and "Expiry date" not in html


def test_a_dutch_customer_reads_stored_values_in_dutch(app, world):
    from tests.conftest import client_in, login

    dutch = client_in(app, "nl")
    login(dutch, world.client1_login.username)
    html = dutch.get("/domains/list/").get_data(as_text=True)
    assert ">actief<" in html.replace(" ", "").replace("\n", "") or "actief" in html
    assert "CSV exporteren" in html


def test_error_pages_speak_the_viewers_language(app, world):
    from tests.conftest import client_in, login

    dutch = client_in(app, "nl")
    login(dutch, world.client1_login.username)
    page = dutch.get("/no-such-page/")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Pagina niet gevonden" in html and '<html lang="nl">' in html


def test_customers_get_no_profile_link_they_may_not_open(app, world):
    from tests.conftest import client_of, login

    client = client_of(app)
    login(client, world.client1_login.username)
    html = client.get("/home/").get_data(as_text=True)
    assert "/users/userinfo/" not in html
    admin = client_of(app)
    login(admin, world.admin.username)
    assert "/users/userinfo/" in admin.get("/home/").get_data(as_text=True)


def test_fabs_own_texts_it_does_not_translate_are_dutch_too(app, world):
    """FAB's Dutch catalogue lacks "Show", "Cancel", ...: the standalone adds them."""
    from tests.conftest import client_in, login

    dutch = client_in(app, "nl")
    login(dutch, world.client1_login.username)
    html = dutch.get("/domains/list/").get_data(as_text=True)
    assert "Tonen" in html and "Annuleren" in html
    assert ">Cancel<" not in html
