"""axe-core over the product's pages, for every role, in a real browser (headless Chromium).

One browser session per role (an anonymous visitor, Client, Reseller, Sales, Admin) walks the
pages that role can use, with rows on them, and runs axe-core (axe-playwright-python, which
ships axe.min.js: no network) on each. A page passes with no violation of impact "critical" or
"serious"; every rule axe has runs (WCAG 2.x A/AA and its best practices), none is disabled.

The pages keep their Content-Security-Policy: axe is injected through the DevTools protocol,
which the page's CSP does not govern, and styles the CSP would block stay blocked, so the
colours checked are the ones a visitor sees.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import ConfirmationRequest, ReminderLog, RenewalDecision
from renewal_reminder.models.reminder import EmailTemplate
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import DESKTOP_VIEWPORT, PASSWORD, client_of, login

#: Impacts that fail the test (axe's scale: minor, moderate, serious, critical).
FAILING = {"critical", "serious"}
CODE = re.compile(r"/confirm/#code=([0-9A-Z-]+)")
PHONE = {"width": 375, "height": 740}
#: Offending elements shown per rule in a failure's report.
MAX_NODES = 10
ROLES = ["anonymous", "client", "reseller", "sales", "admin"]


def _report(failures: dict[str, list[dict]]) -> str:
    """The failing violations by rule: its id, impact and help, then each offending element
    (the first few) with one of axe's explanations and the pages it is on, so the failure says
    what to fix where. An element of the shared layout shows once, with all its pages."""
    rules: dict[str, dict] = {}
    for page, violations in failures.items():
        for violation in violations:
            rule = rules.setdefault(violation["id"], {"violation": violation, "nodes": {}})
            for node in violation["nodes"]:
                target = " ".join(node["target"])
                entry = rule["nodes"].setdefault(target, {"node": node, "pages": []})
                entry["pages"].append(page)
    lines = []
    for rule_id, rule in rules.items():
        violation = rule["violation"]
        lines.append(f"[{violation['impact']}] {rule_id}: {violation['help']}")
        for target, entry in list(rule["nodes"].items())[:MAX_NODES]:
            why = " ".join(entry["node"].get("failureSummary", "").split())
            lines.append(f"    {target}")
            lines.append(f"        {why[:240]}")
            lines.append(f"        on: {', '.join(entry['pages'])}")
        if len(rule["nodes"]) > MAX_NODES:
            lines.append(f"    ... and {len(rule['nodes']) - MAX_NODES} more elements")
    return "\n".join(lines)


class Walk:
    """A role's browser session: visits pages and keeps axe's failing violations per page."""

    def __init__(self, page, live_url: str):
        from axe_playwright_python.sync_playwright import Axe

        self.page = page
        self.live_url = live_url
        self.axe = Axe()
        self.failures: dict[str, list[dict]] = {}
        self.checked: list[str] = []

    def check(self, label: str) -> None:
        """Run axe on the page as it is now."""
        self.page.wait_for_load_state("load")
        results = self.axe.run(self.page).response
        assert results["url"].startswith(self.live_url), (label, results["url"])
        self.checked.append(label)
        failing = [v for v in results["violations"] if v["impact"] in FAILING]
        if failing:
            self.failures[label] = failing

    def on_a_phone(self, label: str) -> None:
        """The page as it is now, again at a phone's width: the navbar folds behind a menu
        button, the selection's rows become cards."""
        self.page.set_viewport_size(PHONE)
        try:
            self.check(f"{label} (phone)")
        finally:
            self.page.set_viewport_size(DESKTOP_VIEWPORT)

    def visit(self, path: str, label: str | None = None, ready: str | None = None) -> None:
        response = self.page.goto(self.live_url + path)
        assert response is not None and response.status < 500, (path, response)
        if ready:
            self.page.wait_for_selector(ready)
        self.check(label or path)


def _sign_in(walk: Walk, username: str) -> None:
    """Through the login form (checked on the anonymous visitor's walk)."""
    walk.page.goto(walk.live_url + "/login/")
    walk.page.fill("#username", username)
    walk.page.fill("#password", PASSWORD)
    walk.page.click("input[type=submit], button[type=submit]")
    walk.page.wait_for_load_state("load")
    assert "/login" not in walk.page.url, "the login failed"


def _prepare(app, world, session, smtp) -> str:
    """Rows on every page: the email templates, a reminder run (the reminder log), a
    confirmation request for client-one.com (sent by the Admin); returns its code."""
    ensure_default_templates(session)
    assert run_reminders(app, dt.date.today()).ok
    smtp.clear()
    admin = client_of(app)
    login(admin, world.admin.username)
    response = admin.post(f"/domains/action/send_confirmation_request/{world.d_c1.id}")
    assert response.status_code in (200, 302)
    [message] = smtp.messages  # to the holder's billing address (the reseller's)
    return CODE.search(message.get_body(("plain",)).get_content()).group(1)


def _save_a_decision(walk: Walk, path: str, domain: str) -> None:
    """The selection page with rows; renew ``domain``; the summary."""
    walk.visit(path, "renewal selection", ready=f"text={domain}")
    walk.on_a_phone("renewal selection")
    walk.page.get_by_role("row", name=domain).get_by_label("Renew").check()
    walk.page.click("text=Save decisions")
    walk.page.wait_for_url("**/renewals/summary**")
    walk.check("renewal summary")


def _fab_pages(walk: Walk, base: str, pk: int, name: str, search: str | None = None) -> None:
    """FAB's list (and, with ``search``, the list with that filter open) and show pages."""
    walk.visit(f"{base}/list/", f"{name} list")
    if search:
        walk.visit(f"{base}/list/?{search}", f"{name} list, filtered")
    walk.visit(f"{base}/show/{pk}", f"{name} show")


def _anonymous(walk: Walk, world, code: str) -> None:
    """The public pages: the front page, sign-in, password help, the landing pages of emailed
    links (and the answer to a refused one), and the confirmation page's three steps."""
    walk.visit("/", "front page")
    walk.on_a_phone("front page")
    walk.visit("/login/", "login page")
    walk.visit("/account/forgot-password", "forgot password")
    walk.page.fill("#email", "nobody@example.com")
    walk.page.click("button[type=submit], input[type=submit]")
    walk.page.wait_for_load_state("load")
    walk.check("forgot password: sent")
    walk.visit("/account/reset-password", "reset-password landing")
    walk.visit("/invitation/", "invitation landing")
    walk.visit("/renewals/link/", "customer link landing")
    # A refused link (from another page: a new fragment alone would not load the page again).
    walk.page.goto("about:blank")
    walk.page.goto(f"{walk.live_url}/renewals/link/#t=not-a-real-token")
    walk.page.wait_for_selector("text=This link does not work")
    walk.check("customer link refused")
    # The confirmation page: the code, then the decision, then the answer.
    walk.visit("/confirm/", "confirmation code")
    walk.page.fill("#code", code)
    walk.page.click("text=Continue")
    walk.page.wait_for_selector(f"text={world.d_c1.name}")
    walk.check("confirmation decision")
    walk.page.get_by_label("Renew it for").check()
    walk.page.click("text=Submit")
    walk.page.wait_for_selector("text=will be renewed")
    walk.check("confirmation result")


def _customer(walk: Walk, world, session, login_user, relation, domain) -> None:
    """A Client's or Reseller's pages: home, the renewal selection and its summary, the
    password page, and the lists and show pages of their relations, domains and decisions."""
    _sign_in(walk, login_user.username)
    walk.visit("/home/", "home")
    walk.on_a_phone("home")
    _save_a_decision(walk, "/renewals/", domain.name)
    walk.visit("/account/password", "change password")
    _fab_pages(walk, "/relations", relation.id, "relations")
    _fab_pages(walk, "/domains", domain.id, "domains", search="_flt_0_name=one")
    session.expire_all()
    decision = session.scalar(select(RenewalDecision).order_by(RenewalDecision.id.desc()))
    _fab_pages(walk, "/decisions", decision.id, "decisions")


def _staff(walk: Walk, world, session, user, admin: bool) -> None:
    """Sales: home, the selection (choose a relation, then its rows), the queue, the
    expiration list, the FAB screens; the Admin also the forms, email templates, reminder log,
    customer logins and the import."""
    _sign_in(walk, user.username)
    walk.visit("/home/", "home")
    walk.on_a_phone("home")
    walk.visit("/renewals/", "renewal selection: choose a relation")
    _save_a_decision(walk, f"/renewals/?relation={world.c1.number}", world.d_c1.name)
    walk.visit("/queue/", "renewal queue", ready=f"text={world.d_c1.name}")
    walk.visit("/expirations/", "expiration list")
    walk.visit("/account/password", "change password")
    session.expire_all()
    _fab_pages(walk, "/relations", world.c1.id, "relations", search="_flt_0_name=one")
    _fab_pages(walk, "/domains", world.d_c1.id, "domains", search="_flt_0_name=one")
    decision = session.scalar(select(RenewalDecision).order_by(RenewalDecision.id.desc()))
    _fab_pages(walk, "/decisions", decision.id, "decisions")
    request_ = session.scalar(select(ConfirmationRequest))
    _fab_pages(walk, "/confirmation-requests", request_.id, "confirmation requests")
    if not admin:
        return
    walk.visit("/relations/add", "relations add form")
    walk.visit(f"/domains/edit/{world.d_c1.id}", "domains edit form")
    template = session.scalar(select(EmailTemplate).order_by(EmailTemplate.id))
    _fab_pages(walk, "/email-templates", template.id, "email templates")
    walk.visit(f"/email-templates/preview/{template.id}", "email template preview")
    entry = session.scalar(select(ReminderLog))
    _fab_pages(walk, "/reminder-log", entry.id, "reminder log")
    # A customer login's row is keyed by its user id.
    _fab_pages(walk, "/relationlogins", world.client1_login.id, "customer logins")
    walk.visit("/portfolio-import/form", "import portfolio")


@pytest.mark.parametrize("role", ROLES)
def test_pages_have_no_serious_accessibility_violations(
    role, app, world, session, smtp, live_url, browser_page
):
    """Every page the role can use, in one browser session, passes axe-core without a critical
    or serious violation."""
    started = time.monotonic()
    code = _prepare(app, world, session, smtp)
    walk = Walk(browser_page, live_url)
    if role == "anonymous":
        _anonymous(walk, world, code)
    elif role == "client":
        _customer(walk, world, session, world.client2_login, world.c2, world.d_c2)
    elif role == "reseller":
        _customer(walk, world, session, world.reseller_login, world.r1, world.d_r1)
    else:
        user = world.admin if role == "admin" else world.sales_a
        _staff(walk, world, session, user, admin=role == "admin")
    print(f"{role}: {len(walk.checked)} pages in {time.monotonic() - started:.1f}s")
    if walk.failures:
        pytest.fail(
            f"axe found critical/serious violations for {role}:\n{_report(walk.failures)}",
            pytrace=False,
        )


def test_the_check_finds_a_violation(browser_page):
    """The walk is not vacuous: axe runs in the page and an unlabelled checkbox fails it."""
    from axe_playwright_python.sync_playwright import Axe

    browser_page.set_content('<html lang="en"><body><main><input type="checkbox"></main></body>')
    violations = Axe().run(browser_page).response["violations"]
    assert "label" in {v["id"] for v in violations if v["impact"] in FAILING}
