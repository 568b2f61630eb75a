"""The renewal cycle of one domain: what its status becomes when facts change.

A decision belongs to one expiry date. When the expiry date moves on (a renewal was executed
here, or a registrar export shows the new date), the domain needs a decision for its new date
again. Only deactivated and deleted domains leave the cycle.
"""

from __future__ import annotations

import datetime as dt

from renewal_reminder.models import OUT_OF_CYCLE, DomainStatus


def status_after_expiry_change(
    status: DomainStatus, old_expiry: dt.date, new_expiry: dt.date
) -> DomainStatus:
    """The status a domain takes when its expiry date changes from ``old`` to ``new``.

    - Out of the cycle (deactivated, deleted): unchanged.
    - Moved later: ``renewed``, i.e. a new cycle awaiting its own decision (a confirmation or
      decline was for the old date).
    - Moved earlier (a correction): the decision for the old date no longer applies, so the
      domain is ``active`` again unless it was already awaiting a decision.
    """
    if status in OUT_OF_CYCLE or new_expiry == old_expiry:
        return status
    if new_expiry > old_expiry:
        return DomainStatus.renewed
    if status is DomainStatus.renewed:
        return status
    return DomainStatus.active
