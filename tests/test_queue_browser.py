"""A sales contact executes a renewal from the queue in a real browser."""

from __future__ import annotations

import pytest
from dateutil.relativedelta import relativedelta

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals.registrars import simulated
from tests.conftest import PASSWORD, screenshot


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
def test_sales_executes_a_renewal_from_the_queue(world, session, live_url, browser_page):
    simulated.SHARED.reset()
    simulated.SHARED.register(world.d_c1.name, world.d_c1.expiry_date)
    old_expiry = world.d_c1.expiry_date
    decision = RenewalDecision(
        domain=world.d_c1,
        decision=Decision.renew,
        years=3,
        expiry_date=old_expiry,
        channel=DecisionChannel.selection_page,
    )
    world.d_c1.status = DomainStatus.renewal_confirmed
    session.add(decision)
    session.commit()

    page = browser_page
    page.goto(f"{live_url}/login/")
    page.fill("#username", world.sales_a.username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.goto(f"{live_url}/queue/")
    page.wait_for_selector("text=client-one.com")
    page.get_by_label(f"Select {world.d_c1.name}").check()
    screenshot(page, "queue-before-execute")
    page.click("text=Execute selected")
    page.wait_for_selector("text=renewed for 3 year(s)")
    page.wait_for_selector("text=The queue is empty.")
    screenshot(page, "queue-after-execute")

    session.expire_all()
    assert session.get(RenewalDecision, decision.id).state is ProcessingState.done
    domain = session.get(Domain, world.d_c1.id)
    assert domain.expiry_date == old_expiry + relativedelta(years=3)
    assert domain.status is DomainStatus.renewed
    simulated.SHARED.reset()


def test_deleting_from_the_queue_asks_first(world, session, live_url, browser_page):
    """Deleting cannot be undone: the queue asks before it executes a selection that deletes,
    and with the manual backend says the deletion was recorded, not done at the registrar."""
    decision = RenewalDecision(
        domain=world.d_c1,
        decision=Decision.decline,
        expiry_date=world.d_c1.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    world.d_c1.status = DomainStatus.renewal_declined
    session.add(decision)
    session.commit()

    page = browser_page
    page.goto(f"{live_url}/login/")
    page.fill("#username", world.sales_a.username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.goto(f"{live_url}/queue/")
    page.get_by_label(f"Select {world.d_c1.name}").check()
    page.select_option("#decline_action", "delete")

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("text=Execute selected")
    page.wait_for_timeout(300)
    assert questions and "cannot be undone" in questions[0]
    session.expire_all()
    assert session.get(RenewalDecision, decision.id).state is ProcessingState.queued

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Execute selected")
    page.wait_for_selector("text=recorded; done at the registrar by hand")
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.deleted
