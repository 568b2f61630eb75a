"""Time the renewal selection page for a reseller with thousands of domains in the window, and
serve it under gunicorn to many clients at once; each figure beside a bare baseline.

    python benchmarks/selection_page.py [--domains 5000] [--runs 20]
        [--load-domains 500] [--clients 20] [--seconds 5] [--rounds 3] [--no-load]

Needs gunicorn for the load part (``pip install gunicorn``; ``--no-load`` skips it).

Builds fresh SQLite databases (in /dev/shm when there is one) with a reseller, 20 clients
under it and ``--domains`` domains expiring within the next three months (a tenth of them
already decided), and logs in as the reseller.

1. Render time: ``GET /renewals/`` (its first page) with Flask's test client, the whole
   request (login check, queries, rendering, the body), against the baseline: the same queries
   (``decisions.selection_page`` and the clients list) rendered by a plain one-level Jinja
   template with the same row markup, from a bare Flask app on the same database. Requests
   alternate (project, baseline, ...); min, median and max over ``--runs`` each after a
   warm-up (and the median CPU time of the process per request), the ratio of the medians,
   and the page's size. Target: under 200 ms and at most ~1 MB of HTML at 5,000 domains.
2. Throughput: ``--load-domains`` domains (500: one whole page), each app under
   ``gunicorn -w 2`` (sync workers) and ``--clients`` threads of http.client requesting it
   for ``--seconds``, in ``--rounds`` rounds that alternate the servers: the project's page,
   the plain-Jinja page, and a bare Flask endpoint returning a static page of the same size.
   Prints each one's median requests per second and server CPU time per request (gunicorn's
   master and workers, from /proc: the steadier figure when other jobs share the cores), and
   the ratios. Target: >= 100 req/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask_babel import Babel  # noqa: E402
from sqlalchemy import create_engine, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchmarks.public_pages import server_cpu_seconds  # noqa: E402
from renewal_reminder.models import (  # noqa: E402
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    Relation,
    RelationKind,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow  # noqa: E402
from renewal_reminder.renewals import decisions  # noqa: E402

PASSWORD = "benchmark-password"
USERNAME = "reseller@example.com"
SECRET = "benchmark-selection-page-7f3c9a1e"
ROWS_TEMPLATE = ROOT / "app" / "templates" / "rr" / "_selection_rows.html"
#: The baseline's page: one level, no layout, the same rows (the project's row markup).
PLAIN_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Renew your domains"
    "</title></head><body><h1>Renew your domains &mdash; #{{ relation.number }} "
    "{{ relation.name }}</h1><form method='post'><select name='client'>{% for c in clients %}"
    "<option value='{{ c.number }}'>#{{ c.number }} {{ c.name }}</option>{% endfor %}</select>"
    "<table><tbody>" + ROWS_TEMPLATE.read_text() + "</tbody></table></form>"
    "<p>{{ page.first }} - {{ page.last }} of {{ page.total }}</p></body></html>"
)
LABELS = {
    "l_renew": "Renew",
    "l_decline": "Decline",
    "l_none": "No decision",
    "l_years": "Years",
    "l_expired": "expired",
    "l_select": "Select",
    "l_processed": "Processed by your sales contact",
    "l_failed": "Your sales contact could not carry this out at the registrar; you can choose "
    "again.",
    "l_saved": "Saved",
    "l_by": "by",
    "l_expiry": "Expiry date",
    "l_days_left": "Days left",
    "l_automatic": "Declined automatically: no decision was made before the expiry date. You "
    "can still choose to renew.",
}


def config(database: str, built: bool = False) -> dict:
    """The app's settings; ``built``: the schema and permissions exist (two gunicorn workers
    starting at once must not both write them)."""
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "FAB_CREATE_DB": not built,
        "FAB_UPDATE_PERMS": not built,
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def build(database: str, domain_count: int) -> None:
    """A reseller (number 1) with 20 clients and their domains, and the reseller's login."""
    from renewal_reminder.renewals.accounts import create_login
    from renewal_reminder.standalone import create_app

    app = create_app(config(database))
    with app.app_context():
        session = app.extensions["appbuilder"].session
        sm = app.extensions["appbuilder"].sm
        reseller = Relation(
            number=1,
            name="Big Reseller",
            billing_email="big@example.com",
            kind=RelationKind.reseller,
        )
        session.add(reseller)
        session.flush()
        clients = [
            Relation(
                number=100 + i,
                name=f"Client {i}",
                billing_email=f"c{i}@example.com",
                parent_id=reseller.id,
            )
            for i in range(20)
        ]
        session.add_all(clients)
        session.flush()
        today, now = dt.date.today(), utcnow()
        holders = [reseller.id] + [client.id for client in clients]
        rows = [
            {
                "name": f"domain-{index:05d}.com",
                "relation_id": holders[index % len(holders)],
                "expiry_date": today + dt.timedelta(days=index % 92),
                "status": DomainStatus.active,
                "created_at": now,
                "updated_at": now,
            }
            for index in range(domain_count)
        ]
        session.execute(insert(Domain.__table__), rows)
        session.commit()
        decided = session.query(Domain).filter(Domain.id % 10 == 0).all()
        for domain in decided:
            domain.status = DomainStatus.renewal_confirmed
            session.add(
                RenewalDecision(
                    domain=domain,
                    decision=Decision.renew,
                    years=2,
                    expiry_date=domain.expiry_date,
                    channel=DecisionChannel.selection_page,
                )
            )
        session.commit()
        create_login(session, sm, email=USERNAME, password=PASSWORD, relation_number=1)
        session.commit()


# --- the apps (also gunicorn's factories: BENCH_DB names the database) ------------------------


def project_app(database: str | None = None) -> Flask:
    from renewal_reminder.standalone import create_app

    return create_app(config(database or os.environ["BENCH_DB"], built=True))


def plain_app(database: str | None = None) -> Flask:
    """A bare Flask app: the selection page's queries, one plain one-level template."""
    from flask_appbuilder.security.sqla.models import User

    from renewal_reminder.models.base import use_user_model

    use_user_model(User)  # the login table the product's models name
    engine = create_engine(f"sqlite:///{database or os.environ['BENCH_DB']}")
    app = Flask("plain")
    Babel(app)  # the rows' texts are translatable (English here)
    template = app.jinja_env.from_string(PLAIN_PAGE)

    @app.get("/plain")
    def plain():
        with Session(engine) as session:
            relation = session.scalar(select(Relation).where(Relation.number == 1))
            page = decisions.selection_page(
                session,
                relation,
                dt.date.today(),
                92,
                page=1,
                page_size=500,
            )
            clients = session.scalars(
                select(Relation).where(Relation.parent_id == relation.id).order_by(Relation.name)
            ).all()
            return template.render(
                relation=relation,
                relation_id=relation.id,
                page=page,
                rows=page.rows,
                clients=clients,
                submitted={},
                row_errors={},
                period_hints={
                    n: decisions.period_hint(n) for n in {row.max_years for row in page.rows}
                },
                **LABELS,
            )

    return app


def static_app(size: int | None = None) -> Flask:
    """A bare Flask endpoint returning a prebuilt page of the project page's size."""
    body = b"x" * (size or int(os.environ["BENCH_SIZE"]))
    app = Flask("static")

    @app.get("/static-page")
    def static_page():
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


# --- 1. render time -----------------------------------------------------------------------


def render_times(database: str, domains: int, runs: int) -> None:
    project = project_app(database).test_client()
    project.post("/login/", data={"username": USERNAME, "password": PASSWORD})
    plain = plain_app(database).test_client()
    response = project.get("/renewals/")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    assert plain.get("/plain").status_code == 200
    timings: dict[str, list[float]] = {"project": [], "plain": []}
    cpu: dict[str, list[float]] = {"project": [], "plain": []}
    for _ in range(runs):
        for name, client, path in (("project", project, "/renewals/"), ("plain", plain, "/plain")):
            started, cpu_started = time.perf_counter(), time.process_time()
            client.get(path).get_data()
            timings[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - cpu_started) * 1000)
    rows = html.count('class="rr-pick"') + html.count("Processed by your sales contact")
    print(
        f"GET /renewals/ at {domains} domains (first page: {rows} rows, "
        f"{len(html.encode()) / 1e6:.2f} MB of HTML), {runs} runs each:"
    )
    for name, label in (("project", "project"), ("plain", "baseline, plain Jinja")):
        values = timings[name]
        print(
            f"  {label:22} min {min(values):6.1f} ms, median {statistics.median(values):6.1f} ms,"
            f" max {max(values):6.1f} ms; CPU median {statistics.median(cpu[name]):6.1f} ms"
        )
    ratio = statistics.median(timings["project"]) / statistics.median(timings["plain"])
    cpu_ratio = statistics.median(cpu["project"]) / statistics.median(cpu["plain"])
    print(f"  ratio project/baseline: {ratio:.2f}x (CPU: {cpu_ratio:.2f}x)")


# --- 2. throughput under gunicorn ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(factory: str, port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            f"benchmarks.selection_page:{factory}",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn {factory} did not start")


def request(port: int, path: str, headers: dict | None = None, body=None, method="GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def login_cookie(port: int) -> str:
    status, headers, _ = request(
        port,
        "/login/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        f"username={USERNAME}&password={PASSWORD}",
        "POST",
    )
    assert status == 302, status
    cookie = next(value for name, value in headers if name.lower() == "set-cookie")
    return cookie.split(";", 1)[0]


def load(port: int, path: str, headers: dict, clients: int, seconds: float) -> tuple[float, int]:
    """Requests per second and requests served: ``clients`` threads, each one request after
    another."""
    done, errors = [0] * clients, []
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        while time.perf_counter() < stop:
            status, _, _ = request(port, path, headers)
            if status != 200:
                errors.append(status)
                return
            done[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
    return sum(done) / (time.perf_counter() - started), sum(done)


def throughput(database: str, clients: int, seconds: float, rounds: int) -> None:
    env = {"BENCH_DB": database}
    ports = {"project": free_port(), "plain": free_port(), "static": free_port()}
    servers = [serve("project_app()", ports["project"], env)]
    try:
        cookie = login_cookie(ports["project"])
        _, _, page = request(ports["project"], "/renewals/", {"Cookie": cookie})
        servers.append(serve("plain_app()", ports["plain"], env))
        servers.append(serve("static_app()", ports["static"], {"BENCH_SIZE": str(len(page))}))
        targets = {
            "project": (ports["project"], "/renewals/", {"Cookie": cookie}),
            "plain": (ports["plain"], "/plain", {}),
            "static": (ports["static"], "/static-page", {}),
        }
        for port, path, headers in targets.values():  # warm every worker up
            load(port, path, headers, 4, 1)
        figures: dict[str, list[float]] = {name: [] for name in targets}
        # Server CPU per request (gunicorn's master and workers, from /proc): the steadier
        # figure on shared cores, where requests per second follow whatever else runs.
        cpu: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(rounds):
            for server, (name, (port, path, headers)) in zip(servers, targets.items(), strict=True):
                cpu_before = server_cpu_seconds(server)
                rate, count = load(port, path, headers, clients, seconds)
                figures[name].append(rate)
                cpu[name].append((server_cpu_seconds(server) - cpu_before) * 1000 / count)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    rows = page.count(b'class="rr-pick"') + page.count(b"Processed by your sales contact")
    print(
        f"gunicorn -w 2, {clients} clients, {rounds} rounds of {seconds:.0f} s "
        f"({rows} rows, {len(page) / 1e6:.2f} MB a page), median requests per second:"
    )
    median = {name: statistics.median(values) for name, values in figures.items()}
    for name, label in (
        ("project", "project /renewals/"),
        ("plain", "baseline, plain Jinja"),
        ("static", "baseline, static page"),
    ):
        spread = ", ".join(f"{value:.0f}" for value in figures[name])
        print(
            f"  {label:22} {median[name]:7.1f} req/s  ({spread}); server CPU "
            f"{statistics.median(cpu[name]):.2f} ms a request"
        )
    print(
        f"  ratio project/plain Jinja: {median['project'] / median['plain']:.2f}x, "
        f"project/static page: {median['project'] / median['static']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load-domains", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-load", action="store_true")
    args = parser.parse_args()
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        big = f"{tmp}/selection-{args.domains}.db"
        build(big, args.domains)
        render_times(big, args.domains, args.runs)
        if not args.no_load:
            small = f"{tmp}/selection-{args.load_domains}.db"
            build(small, args.load_domains)
            throughput(small, args.clients, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
