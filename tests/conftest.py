"""Shared fixtures: a fresh database per test session (SQLite file, or PostgreSQL when
DATABASE_URL says so), a new app per test, logins, and a real SMTP server on loopback."""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import email
import email.policy
import functools
import os
import re
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator

import pytest
import time_machine
from aiosmtpd.controller import Controller
from flask import Flask
from flask_appbuilder import Model
from flask_mail import Mail
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from renewal_reminder import settings
from renewal_reminder.models import product_tables
from renewal_reminder.renewals import passwords
from renewal_reminder.renewals.accounts import create_login
from renewal_reminder.renewals.registrars import get_backend
from renewal_reminder.session import EXTENSION
from renewal_reminder.standalone import create_app

#: The tests' own instance folder (config.INSTANCE_DIR, read when config.py is first imported),
#: never the checkout's instance/: a demo's secret_key there (python run.py) would stand in for
#: a missing SECRET_KEY.
os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="rr-test-instance-")
atexit.register(shutil.rmtree, os.environ["INSTANCE_PATH"], True)

#: How long a session (the whole suite on one database) may take at most.
SESSION_CLOCK_MARGIN = dt.timedelta(hours=3)


def _keep_one_date_for_the_session() -> None:
    """Run the session on one calendar date, even when it starts shortly before midnight.

    Test modules compute ``TODAY`` when they are imported, the ``world`` fixture when it runs,
    the app when it answers a request: a run that crossed midnight had them disagree by a day
    (ten tests failed, and passed again after midnight). Within ``SESSION_CLOCK_MARGIN`` of
    midnight (local time, as ``date.today()`` reads it), the clock is put back by that margin
    for the whole session (it keeps ticking); otherwise the real clock is used. Only this
    process's wall-clock time moves (``time.time``, ``datetime``; each xdist worker puts its
    own back): timeouts run on ``time.monotonic``, which stays real, and the commands some
    tests run in a subprocess see the real clock (none compares its date with the tests')."""
    now = dt.datetime.now().astimezone()  # aware: time-machine reads a naive time as UTC
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    if midnight - now < SESSION_CLOCK_MARGIN:
        time_machine.travel(now - SESSION_CLOCK_MARGIN, tick=True).start()


_keep_one_date_for_the_session()


def _remember_password_estimates() -> None:
    """Estimate each (password, user inputs) pair's strength once per session.

    The fixtures create the same logins, with the same password, in most tests, and zxcvbn
    (``renewals.passwords``) takes about 12 ms per login: a fifth of the whole suite. Its
    estimate depends on nothing but its arguments, so a remembered one is the same answer;
    the tests of the password rules still go through ``check_password`` and zxcvbn. Each
    caller gets a copy of the remembered answer, as it got a fresh one before."""
    zxcvbn = passwords.zxcvbn

    @functools.lru_cache(maxsize=4096)
    def estimate(password: str, user_inputs: tuple, options: tuple) -> dict:
        return zxcvbn(password, user_inputs=list(user_inputs), **dict(options))

    def remembered_zxcvbn(password: str, user_inputs=(), **options) -> dict:
        return copy.deepcopy(estimate(password, tuple(user_inputs), tuple(sorted(options.items()))))

    passwords.zxcvbn = remembered_zxcvbn


_remember_password_estimates()

#: Tables whose rows belong to one test (besides the product's own, all emptied). Roles and
#: permissions stay for the whole session: they are the same in every test and slow to rebuild.
PER_TEST_AB_TABLES = ("ab_user_role", "ab_user_group", "ab_api_key", "ab_register_user", "ab_user")
FAST_PASSWORD_HASH = "pbkdf2:sha256:1000"
PASSWORD = "correct-horse-battery"
#: Strong enough for the standalone app's check (a weak one would get a random key per app).
TEST_SECRET_KEY = "7f3c9a1e5b2d4c6e8a0f1b3d5c7e9a2b"


# --- database ---------------------------------------------------------------------------------


def _fresh_database_url(tmp_path_factory) -> str:
    """A database no one else uses: a new PostgreSQL database when DATABASE_URL points at a
    server, otherwise a SQLite file in memory-backed storage when the machine has it.

    Both are tuned for tests, not durability: PostgreSQL does not wait for its WAL to reach the
    disk on commit (``synchronous_commit=off``), and SQLite lives in tmpfs (no fsync)."""
    base = os.environ.get("DATABASE_URL")
    if base and base.startswith("postgresql"):
        url = make_url(base)
        name = f"rr_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        return url.set(database=name).render_as_string(hide_password=False)
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        folder = tempfile.mkdtemp(prefix="rr-test-", dir="/dev/shm")
        return f"sqlite:///{folder}/test.db"
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    url = _fresh_database_url(tmp_path_factory)
    # Build the schema the way production does: the Alembic migrations.
    app = create_app(_test_config(url))
    with app.app_context():
        from renewal_reminder.setup import prepare_database

        prepare_database(app)
        app.extensions["sqlalchemy"].engine.dispose()
    yield url
    _drop_database(url)


@pytest.fixture
def empty_database_url(tmp_path_factory) -> Iterator[str]:
    """Another fresh database, empty (no schema), on the same engine as the suite's."""
    url = _fresh_database_url(tmp_path_factory)
    yield url
    _drop_database(url)


def _drop_database(url: str) -> None:
    if url.startswith("sqlite:////dev/shm/"):
        shutil.rmtree(os.path.dirname(make_url(url).database), ignore_errors=True)
    if url.startswith("postgresql"):
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        admin.dispose()


def _test_config(database_url: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
        "FAB_UPDATE_PERMS": False,
        "MAIL_SERVER": "127.0.0.1",
        "RENEWALS_BASE_URL": "http://renewals.test",
        "SERVER_NAME": None,
        "MAIL_SUPPRESS_SEND": False,  # deliver to the loopback SMTP server for real
        "MAIL_DEFAULT_SENDER": "renewals@reseller.example.com",
    }
    config.update(overrides)
    return config


def _empty_per_test_tables(engine) -> None:
    """DELETE, not TRUNCATE: on PostgreSQL truncating a dozen nearly empty tables costs ten
    times as much, for every test."""
    fab_tables = {table.name: table for table in Model.metadata.sorted_tables}
    tables = [*reversed(product_tables()), *(fab_tables[name] for name in PER_TEST_AB_TABLES)]
    with engine.begin() as conn:
        conn.execute(text("UPDATE rr_relation SET parent_id = NULL"))  # self-reference
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def app_config(request, database_url, _smtp_controller) -> dict:
    """The test app's config. Change it per test with ``@pytest.mark.app_config(KEY=value)``
    (pytest-flask creates the app before ordinary fixtures run) or per module by overriding
    this fixture."""
    controller, _ = _smtp_controller
    config = _test_config(database_url, MAIL_PORT=_smtp_port(controller))
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        config.update(marker.kwargs)
    return config


class _AppCache:
    """Test apps, reused by every test with the same config.

    Building an app (FAB registers its views, the addon installs itself) costs ~50 ms, as
    much as many tests take; most tests share one config, so they share one app. What a test
    may change on an app is put back after it: the config, the mail settings, the registrar
    backend (the simulated registry keeps state), the rate-limit counters and the database
    rows. A few apps are kept;
    the least recently used one is closed (its pooled connections too) when another is built.
    """

    SIZE = 4

    def __init__(self):
        self._apps: dict[str, tuple[Flask, dict]] = {}

    def get(self, config: dict) -> Flask:
        key = repr(sorted((name, repr(value)) for name, value in config.items()))
        if key in self._apps:
            self._apps[key] = self._apps.pop(key)  # most recently used last
            return self._apps[key][0]
        if len(self._apps) >= self.SIZE:
            _close(self._apps.pop(next(iter(self._apps)))[0])
        application = create_app(dict(config))
        self._apps[key] = (application, copy.deepcopy(dict(application.config)))
        return application

    def reset(self, application: Flask) -> None:
        """Undo what a test may have changed on ``application``."""
        pristine = next(saved for app_, saved in self._apps.values() if app_ is application)
        application.config.clear()
        application.config.update(copy.deepcopy(pristine))
        # The addon's state (registrar, mail settings) is rebuilt from the config.
        state = application.extensions[EXTENSION]
        state.registrar = get_backend(settings.read(application.config))
        state.mail = Mail().init_mail(application.config, application.debug, application.testing)
        for limiter in application.extensions.get("limiter", ()):
            limiter.reset()

    def close_all(self) -> None:
        while self._apps:
            _close(self._apps.popitem()[1][0])


def _close(application: Flask) -> None:
    with application.app_context():
        application.extensions["sqlalchemy"].session.remove()
        application.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture(scope="session")
def _app_cache() -> Iterator[_AppCache]:
    cache = _AppCache()
    yield cache
    cache.close_all()


@pytest.fixture
def app(request, app_config, _app_cache):
    """The app for this test's config, with the per-test tables emptied.

    ``@pytest.mark.fresh_app`` gives a test an app of its own (for tests that register routes
    or otherwise change an app in ways ``_AppCache.reset`` cannot undo)."""
    fresh = request.node.get_closest_marker("fresh_app") is not None
    application = create_app(dict(app_config)) if fresh else _app_cache.get(app_config)
    with application.app_context():
        _empty_per_test_tables(application.extensions["sqlalchemy"].engine)
    yield application
    if fresh:
        _close(application)
    else:
        with application.app_context():
            application.extensions["sqlalchemy"].session.remove()
        _app_cache.reset(application)


@pytest.fixture
def session(app):
    """The FAB session (what views, CLI and jobs use)."""
    return app.extensions["appbuilder"].session


@pytest.fixture
def security_manager(app):
    return app.extensions["appbuilder"].sm


# --- logins -----------------------------------------------------------------------------------


@pytest.fixture
def make_user(app, session, security_manager):
    """make_user(username, role_name, email=None, relation=None) -> FAB user (password PASSWORD).

    With ``relation`` (a Relation) the login is a customer login linked to it."""

    def _make(username: str, role_name: str | None = None, email: str | None = None, relation=None):
        email = email or (username if "@" in username else f"{username}@example.com")
        if relation is not None:
            user = create_login(
                session,
                security_manager,
                email=email,
                password=PASSWORD,
                relation_number=relation.number,
            )
            session.commit()
            return user
        if role_name in ("Sales", "Admin"):
            user = create_login(
                session, security_manager, email=email, password=PASSWORD, role=role_name
            )
            session.commit()
            return user
        role = security_manager.find_role(role_name) if role_name else None
        user = security_manager.add_user(
            username, username, "Test", email, role or [], password=PASSWORD
        )
        assert user, "could not create user"
        return user

    return _make


def login(client, username: str, password: str = PASSWORD):
    data = {"username": username, "password": password}
    if client.application.config.get("WTF_CSRF_ENABLED"):
        page = client.get("/login/").get_data(as_text=True)
        data["csrf_token"] = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login/", data=data)
    assert response.status_code in (200, 302), response.status_code
    return response


class Fresh:
    """A test client whose every request runs in an app context of its own, as in a server.

    pytest-flask keeps one app context pushed for the whole test, and Flask reuses it for the
    test client's requests: ``g`` (where flask_login caches the signed-in user) would then carry
    one client's login into another client's request, and hide what the cookie alone does."""

    def __init__(self, client):
        self.client = client
        self.application = client.application

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name not in {"get", "post", "open"}:
            return method

        def in_own_context(*args, **kwargs):
            with self.application.app_context():
                return method(*args, **kwargs)

        return in_own_context


def client_of(app) -> Fresh:
    return Fresh(app.test_client())


def client_in(app, language: str) -> Fresh:
    """A client whose browser asks for ``language`` (pages follow the viewer's language)."""
    client = client_of(app)
    client.get("/login/", headers={"Accept-Language": language})
    return client


def logout(client):
    client.post("/logout/")


# --- mail -------------------------------------------------------------------------------------


class _Inbox:
    """Messages received by the loopback SMTP server, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def clear(self):
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.refuse.clear()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        pairs = zip(self.messages, self.envelopes, strict=True)
        return [message for message, (_, recipients) in pairs if address in recipients]


@pytest.fixture(scope="session")
def _smtp_controller():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _smtp_port(controller) -> int:
    return controller.port


@pytest.fixture
def smtp(_smtp_controller):
    """The real SMTP server on loopback that every test app delivers to, emptied."""
    _, inbox = _smtp_controller
    inbox.clear()
    return inbox


# --- a small world of relations, domains and logins -------------------------------------------


class World:
    """Two sales contacts; reseller R1 (#100, sales A) with client C1 (#101); client C2 (#200,
    sales B). One domain each, and a login per relation."""


@pytest.fixture
def world(app, session, make_user):
    from renewal_reminder.models import Domain, Relation, RelationKind

    w = World()
    w.admin = make_user("admin@example.com", "Admin")
    w.sales_a = make_user("sales-a@example.com", "Sales")
    w.sales_b = make_user("sales-b@example.com", "Sales")
    w.r1 = Relation(
        number=100,
        name="Reseller One",
        billing_email="r1@example.com",
        kind=RelationKind.reseller,
        sales_contact_id=w.sales_a.id,
    )
    w.c1 = Relation(
        number=101,
        name="Client One",
        billing_email="c1@example.com",
        kind=RelationKind.client,
        parent=w.r1,
        sales_contact_id=w.sales_a.id,
    )
    w.c2 = Relation(
        number=200,
        name="Client Two",
        billing_email="c2@example.com",
        kind=RelationKind.client,
        sales_contact_id=w.sales_b.id,
    )
    session.add_all([w.r1, w.c1, w.c2])
    today = dt.date.today()
    w.d_r1 = Domain(name="reseller-one.com", relation=w.r1, expiry_date=today + dt.timedelta(30))
    w.d_c1 = Domain(name="client-one.com", relation=w.c1, expiry_date=today + dt.timedelta(20))
    w.d_c2 = Domain(name="client-two.com", relation=w.c2, expiry_date=today + dt.timedelta(10))
    session.add_all([w.d_r1, w.d_c1, w.d_c2])
    session.commit()
    w.reseller_login = make_user("reseller@example.com", relation=w.r1)
    w.client1_login = make_user("client1@example.com", relation=w.c1)
    w.client2_login = make_user("client2@example.com", relation=w.c2)
    return w


# --- a real browser ---------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-artifacts")


@pytest.fixture
def live_url(app):
    """The test app served over HTTP on loopback (a thread, so the test shares its database
    and the loopback SMTP server)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)  # the port the system gives
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium_browser():
    """Headless Debian Chromium driven by Playwright (its own browser download is not
    possible here), started once per session: each test gets a context of its own
    (``browser_page``), as isolated as a new browser (cookies, storage, cache) and a second
    instead of a second's start-up. Skipped, with the reason, when Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


#: The browser window of the browser tests unless a test sets another.
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture
def browser_context_options() -> dict:
    """What a test's browser context is made with; a module overrides it for e.g. a locale
    (taking this fixture as an argument to extend it)."""
    return {"viewport": DESKTOP_VIEWPORT}


@pytest.fixture
def browser_page(chromium_browser, browser_context_options):
    """A page in a fresh browser context of the session's Chromium."""
    context = chromium_browser.new_context(**browser_context_options)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def screenshot(page, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path


# --- two app servers at once ------------------------------------------------------------------


def run_in_parallel(app_config: dict, count: int, job) -> list:
    """Call ``job(app)`` at the same moment in ``count`` threads, each with its own app (own
    engine and connections), as that many app servers would; return the results."""
    from renewal_reminder.standalone import create_app

    apps = [create_app(dict(app_config)) for _ in range(count)]
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker(application):
        barrier.wait()
        try:
            results.append(job(application))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for application in apps:
        with application.app_context():
            application.extensions["sqlalchemy"].engine.dispose()
    assert errors == []
    return results
