"""A small demo portfolio and one login per role, for `python run.py` and `flask demo load`."""

from __future__ import annotations

import datetime as dt
import random
import secrets

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from renewal_reminder.models import Domain, DomainStatus, Relation, RelationKind
from renewal_reminder.renewals.accounts import create_login
from renewal_reminder.renewals.validation import normalize_domain_name

DEMO_PASSWORDS = {
    "Admin": ("admin@demo.example", "demo-admin-2026"),
    "Sales": ("sales@demo.example", "demo-sales-2026"),
    "Reseller": ("reseller@demo.example", "demo-reseller-2026"),
    "Client": ("client@demo.example", "demo-client-2026"),
}

_RELATIONS = [
    # number, name, email, kind, parent number, language, reminders to reseller
    (1311, "Dommelsen, V", "info@dommelsen.example", RelationKind.reseller, None, "en", False),
    (
        1312,
        "Bakkerij de Korf",
        "info@bakkerijdekorf.example",
        RelationKind.client,
        1311,
        "nl",
        True,
    ),
    (1313, "Fietsen Jansen", "post@fietsenjansen.example", RelationKind.client, 1311, "nl", False),
    (
        2001,
        "Acme Webdesign",
        "billing@acme-webdesign.example",
        RelationKind.client,
        None,
        "en",
        False,
    ),
    (
        2002,
        "Northwind Traders",
        "accounts@northwind.example",
        RelationKind.client,
        None,
        "en",
        False,
    ),
]
_NAMED_DOMAINS = [
    ("deliverystatus.org", 1311, 5),
    ("denzelishome.com", 1311, 61),
    ("drivemasters.net", 1311, 61),
    ("bakkerijdekorf.nl", 1312, 15),
    ("brood-en-banket.nl", 1312, 30),
    ("fietsenjansen.nl", 1313, 2),
    ("acme-webdesign.com", 2001, 1),
    ("northwind.example", 2002, 45),
    ("bücherstube.de", 2001, 20),
]
_WORDS = [
    "alpha",
    "harbor",
    "maple",
    "river",
    "stone",
    "cedar",
    "summit",
    "meadow",
    "copper",
    "lantern",
    "orbit",
    "pixel",
    "quartz",
    "willow",
    "ember",
    "falcon",
    "garden",
    "island",
]
_TLDS = ["com", "net", "org", "nl", "eu", "io", "de", "be"]


class DemoRefused(Exception):
    """Loading the demo here would mix made-up customers into real data."""


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(Relation.id).where(Relation.number == 1311)) is not None


def database_is_empty(session: Session) -> bool:
    """No relations and no domains: nothing real that demo data could be mixed into."""
    return not session.scalar(select(exists(select(Relation.id)) | exists(select(Domain.id))))


def check_demo_allowed(session: Session, demo_mode: bool, force: bool) -> None:
    """The demo belongs in demo mode; elsewhere only with ``force`` and on an empty database."""
    if demo_mode:
        return
    if not force:
        raise DemoRefused(
            "this is not a demo installation (DEMO_MODE is off): demo data would be mixed into "
            "real data. Use --force to load it into an empty database anyway."
        )
    if not database_is_empty(session):
        raise DemoRefused("the database already holds relations or domains: nothing was loaded")


def random_demo_passwords() -> dict[str, tuple[str, str]]:
    """The demo logins with fresh random passwords (for demos reachable by others)."""
    return {role: (login, secrets.token_urlsafe(12)) for role, (login, _) in DEMO_PASSWORDS.items()}


def load_demo(
    session: Session,
    security_manager,
    today: dt.date | None = None,
    passwords: dict[str, tuple[str, str]] | None = None,
) -> dict:
    """Create the demo relations, ~50 domains and the demo logins, unless already there.

    Domains spread over the next four months, a few already expired (not yet deleted), so every
    screen and the reminder job have something to show. ``passwords`` are the logins to create
    ({role: (login, password)}, default ``DEMO_PASSWORDS``); returns them, or ``{}`` when the
    demo was already loaded. Flushes; the caller commits, so the demo arrives whole or not at
    all.
    """
    if demo_loaded(session):
        return {}
    logins = passwords or DEMO_PASSWORDS
    today = today or dt.date.today()
    rng = random.Random(2026)

    sales = create_login(
        session,
        security_manager,
        email=logins["Sales"][0],
        password=logins["Sales"][1],
        role="sales",
        first_name="Sam",
        last_name="Sales",
    )
    create_login(
        session,
        security_manager,
        email=logins["Admin"][0],
        password=logins["Admin"][1],
        role="admin",
        first_name="Ada",
        last_name="Admin",
    )

    relations: dict[int, Relation] = {}
    for number, name, email, kind, parent, language, to_reseller in _RELATIONS:
        relations[number] = Relation(
            number=number,
            name=name,
            billing_email=email,
            kind=kind,
            parent=relations.get(parent),
            language=language,
            reminders_to_reseller=to_reseller,
            sales_contact_id=sales.id,
        )
        session.add(relations[number])
    session.flush()

    names = set()
    for name, number, days in _NAMED_DOMAINS:
        domain = Domain(
            name=normalize_domain_name(name),
            relation=relations[number],
            expiry_date=today + dt.timedelta(days=days),
        )
        names.add(domain.name)
        session.add(domain)
    numbers = list(relations)
    while len(names) < 50:
        name = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}.{rng.choice(_TLDS)}"
        if name in names:
            continue
        names.add(name)
        days = rng.randint(-12, 122)  # some expired, most within the next four months
        session.add(
            Domain(
                name=name,
                relation=relations[rng.choice(numbers)],
                expiry_date=today + dt.timedelta(days=days),
                status=DomainStatus.active,
            )
        )
    session.flush()

    create_login(
        session,
        security_manager,
        email=logins["Reseller"][0],
        password=logins["Reseller"][1],
        relation_number=1311,
    )
    create_login(
        session,
        security_manager,
        email=logins["Client"][0],
        password=logins["Client"][1],
        relation_number=2001,
    )
    return logins
