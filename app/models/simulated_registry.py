"""The simulated registrar's registry (``REGISTRAR_BACKEND=simulated``), kept in the database.

A table rather than process memory so that the web app, the scheduler process and CLI commands
see one registry: a renewal queued on the web page and executed by ``flask renewals process``
in another process finds the domain there. Only ``renewals.registrars.simulated`` writes it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from renewal_reminder.models.base import Base, updated_column


class SimulatedRegistryEntry(Base):
    """One name in the simulated registry: its expiry date and EPP statuses.

    ``statuses`` holds the EPP status values other than ``ok``, space-separated and sorted
    ("" is ``ok``). ``registered`` False is a name the registry no longer has (purged after its
    redemption period: every command answers 2303); the row stays so that the name is not
    derived from the domains table again on its next sight.
    """

    __tablename__ = "rr_simulated_registry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)
    expiry_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    statuses: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    registered: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[dt.datetime] = updated_column()

    def __repr__(self) -> str:
        return f"<SimulatedRegistryEntry {self.name} {self.expiry_date} {self.statuses!r}>"
