"""Time the renewal selection page for a reseller with thousands of domains in the window.

    python benchmarks/selection_page.py [--domains 5000] [--runs 20]

Builds a fresh SQLite database with a reseller, 20 clients under it and ``--domains`` domains
expiring within the next three months (a tenth of them already decided), logs in as the
reseller with Flask's test client and times ``GET /renewals/`` (the whole request: queries,
rendering, the response body). Prints min, median and max over ``--runs`` requests after one
warm-up, and the size of the page. Target: under 300 ms for 5,000 rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

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
from renewal_reminder.renewals.accounts import create_login  # noqa: E402
from renewal_reminder.standalone import create_app  # noqa: E402

PASSWORD = "benchmark-password"


def build(app, domain_count: int) -> None:
    session = app.extensions["appbuilder"].session
    sm = app.extensions["appbuilder"].sm
    reseller = Relation(
        number=1, name="Big Reseller", billing_email="big@example.com", kind=RelationKind.reseller
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
    create_login(session, sm, email="reseller@example.com", password=PASSWORD, relation_number=1)
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "FAB_CREATE_DB": True,
                "TESTING": True,
                "SECRET_KEY": "benchmark" * 4,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        with app.app_context():
            build(app, args.domains)
        client = app.test_client()
        client.post("/login/", data={"username": "reseller@example.com", "password": PASSWORD})
        response = client.get("/renewals/")
        assert response.status_code == 200, response.status_code
        rows = response.get_data(as_text=True).count('name="years-')
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get("/renewals/")
            response.get_data()
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"GET /renewals/ with {args.domains} domains ({rows} decidable rows, "
            f"{len(response.get_data()) / 1e6:.1f} MB of HTML), {args.runs} runs:"
        )
        print(
            f"  min {min(timings):.0f} ms, median {statistics.median(timings):.0f} ms, "
            f"max {max(timings):.0f} ms"
        )


if __name__ == "__main__":
    main()
