"""The product's ``flask`` commands. Thin: parse, call ``renewal_reminder.renewals``, print.

The addon registers one group on the host app, ``flask renewals ...`` (``renewals users
create``, ``renewals reminders send``, ``renewals db upgrade``, ``renewals process``, ...).
The standalone app also keeps its documented top-level commands (``flask users create``,
``flask reminders send``, ...): ``standalone_commands``.
"""

from __future__ import annotations

import contextlib
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from renewal_reminder import schema, settings
from renewal_reminder.jobs import (
    run_processing,
    run_registrar_sync,
    run_reminders,
    run_sales_digest,
)
from renewal_reminder.models import Domain, Relation
from renewal_reminder.renewals import codes, demo, mailer
from renewal_reminder.renewals.accounts import create_login
from renewal_reminder.renewals.portfolio import PortfolioImportError, import_portfolio
from renewal_reminder.renewals.registry_sync import SyncRefused
from renewal_reminder.renewals.validation import InvalidValue, normalize_domain_name
from renewal_reminder.session import current_mail, current_session


def _security_manager():
    return current_app.extensions["appbuilder"].sm


renewals_group = click.Group(
    "renewals", help="Renewal Reminder: reminders, renewals, logins, portfolio, its tables."
)
users = click.Group("users", help="Manage logins.")
reminders = click.Group("reminders", help="The automated renewal reminder.")
domains = click.Group("domains", help="Manage the domain portfolio.")
demo_group = click.Group("demo", help="Demo data.")
db_group = click.Group("db", help="The product's own tables (its own migrations).")


@users.command("create")
@click.option("--email", required=True, help="Email address; also the login name.")
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--relation", "relation_number", type=int, help="Relation number (customer login).")
@click.option(
    "--role",
    help="Staff role (staff login): sales or admin (or the host's name for either).",
)
@with_appcontext
def create_user(email: str, password: str, relation_number: int | None, role: str | None):
    """Create a login for a relation (Reseller/Client by its kind) or a staff member."""
    try:
        user = create_login(
            current_session(),
            _security_manager(),
            email=email,
            password=password,
            relation_number=relation_number,
            role=role,
        )
    except InvalidValue as exc:
        current_session().rollback()
        raise click.ClickException(str(exc)) from None
    current_session().commit()
    roles = ", ".join(role.name for role in user.roles)
    click.echo(f"Created login {user.username} ({roles}).")


@users.command("invite")
@click.option("--relation", "relation_number", type=int, help="Invite this relation (number).")
@click.option(
    "--all-relations", is_flag=True, help="Invite every relation without an open invitation."
)
@click.option(
    "--only-without-login",
    is_flag=True,
    help="With --all-relations: only relations that have no login yet.",
)
@with_appcontext
def invite_users(relation_number: int | None, all_relations: bool, only_without_login: bool):
    """Email relations an invitation to set a password (one email each, exactly once).

    --relation NUMBER invites one relation, revoking its open invitation. --all-relations
    invites every relation that has no open invitation and sends what an earlier run left
    unsent: run it again after a crash and it carries on (exit status 1 if any email failed).
    """
    from renewal_reminder.renewals import invitations

    if (relation_number is None) == (not all_relations):
        raise click.UsageError("give either --relation NUMBER or --all-relations")
    if only_without_login and not all_relations:
        raise click.UsageError("--only-without-login goes with --all-relations")
    session = current_session()
    mail = mailer.MailSettings.from_config(settings.current())
    if relation_number is not None:
        relation_id = session.scalar(select(Relation.id).where(Relation.number == relation_number))
        if relation_id is None:
            raise click.ClickException(f"there is no relation with number {relation_number}")
        summary = invitations.invite(
            session, current_mail(), mail, [relation_id], reinvite=True, echo=click.echo
        )
    else:
        relation_ids = session.scalars(invitations.relations_to_invite(only_without_login)).all()
        created = invitations.create_invitations(
            session, relation_ids, reinvite=False, only_without_login=only_without_login
        )
        summary = invitations.send_invitations(
            session,
            current_mail(),
            mail,
            summary=invitations.InviteSummary(created=len(created)),
        )
    for problem in summary.problems:
        click.echo(f"  {problem}", err=True)
    click.echo(str(summary))
    if not summary.ok:
        raise SystemExit(1)


@domains.command("import")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def import_domains(file):
    """Import or update the portfolio from a CSV file (see README for the columns)."""
    bars = _ProgressBars(_data_lines(file))
    try:
        summary = import_portfolio(current_session(), file, progress=bars.show)
    except PortfolioImportError as exc:
        bars.close()
        raise click.ClickException(f"nothing was imported; {exc}") from None
    bars.close()
    click.echo(f"Imported {summary}.")


def _data_lines(file) -> int | None:
    """The number of lines after the header, if the file can be read twice (not a pipe)."""
    if not file.seekable():
        return None
    start = file.tell()
    lines = sum(1 for _ in file)
    file.seek(start)
    return max(lines - 1, 0)


class _ProgressBars:
    """One progress bar per stage of the import, on stderr (only drawn on a terminal)."""

    def __init__(self, rows: int | None) -> None:
        self.rows = rows
        self.stage: str | None = None
        self.bar = None
        self.done = 0

    def show(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.stage:
            self.close()
            length = total if total is not None else self.rows
            self.bar = click.progressbar(
                length=length or 1, label=stage.capitalize(), file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()
            self.stage, self.done = stage, 0
        self.bar.update(max(done - self.done, 0))
        self.done = max(done, self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@domains.command("sync")
@click.option("--relation", "relation_number", type=int, help="Only this relation (and clients).")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@with_appcontext
def sync_domains(relation_number: int | None, dry_run: bool):
    """Ask the registry about every active domain and take over what changed there: renewed
    elsewhere (the next cycle starts), gone or pendingDelete (deleted). Exit status 1 if the
    registry did not answer for some domains."""
    try:
        summary = run_registrar_sync(
            current_app._get_current_object(),
            dry_run=dry_run,
            echo=click.echo,
            relation_number=relation_number,
        )
    except SyncRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(summary))
    if not summary.ok:
        raise SystemExit(1)


@demo_group.command("load")
@click.option(
    "--force", is_flag=True, help="Outside demo mode: load into an empty database anyway."
)
@with_appcontext
def load_demo_command(force: bool):
    """Load the demo portfolio and one login per role, in one transaction.

    Only in demo mode (DEMO_MODE), or with --force on an empty database. The logins get random
    passwords, printed once here.
    """
    session = current_session()
    try:
        demo.check_demo_allowed(session, bool(settings.current()["DEMO_MODE"]), force)
    except demo.DemoRefused as exc:
        raise click.ClickException(f"demo not loaded: {exc}") from None
    try:
        logins = demo.load_demo(
            session, _security_manager(), passwords=demo.random_demo_passwords()
        )
    except Exception:
        session.rollback()
        raise
    if not logins:
        click.echo("The demo portfolio is already loaded; nothing changed.")
        return
    session.commit()
    click.echo("Demo portfolio loaded. Logins (the passwords are shown only this once):")
    for role, (login, password) in logins.items():
        click.echo(f"  {role:<9} {login} / {password}")


@reminders.command("send")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run as of this date.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
@with_appcontext
def send_reminders_command(day, dry_run: bool):
    """Send today's reminder digests (exit status 1 if any email failed)."""
    _run_job(run_reminders, day, dry_run)


@renewals_group.command("request")
@click.argument("domain_name")
@with_appcontext
def request_confirmation(domain_name: str):
    """Email a renewal confirmation request (a new activation code) for DOMAIN_NAME."""
    session = current_session()
    try:
        name = normalize_domain_name(domain_name)
    except InvalidValue as exc:
        raise click.ClickException(str(exc)) from None
    domain = session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        raise click.ClickException(f"there is no domain {domain_name}")
    outcome = codes.send_confirmation_request(
        session,
        current_mail(),
        mailer.MailSettings.from_config(settings.current()),
        codes.CodeSettings.from_config(settings.current()),
        domain,
        sent_by_id=None,
    )
    if not outcome.ok:
        raise click.ClickException(f"not sent: {outcome.error}")
    click.echo(f"Confirmation request for {domain.unicode_name} sent to {outcome.sent_to}.")


@renewals_group.command("process")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run as of this date.")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
@with_appcontext
def process_command(day, dry_run: bool):
    """The automated removal and renewal (exit status 1 if any action failed)."""
    _run_job(run_processing, day, dry_run)


@renewals_group.command("digest")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run as of this date.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
@with_appcontext
def sales_digest_command(day, dry_run: bool):
    """The daily email to each sales contact (exit status 1 if any email failed)."""
    _run_job(run_sales_digest, day, dry_run)


def _run_job(job, day, dry_run: bool) -> None:
    """Run a job as of ``day``, print its problems and summary, exit 1 if anything failed."""
    today = day.date() if day else None
    summary = job(current_app._get_current_object(), today, dry_run, echo=click.echo)
    for problem in summary.problems:
        click.echo(f"  {problem}", err=True)
    click.echo(str(summary))
    if not summary.ok:
        raise SystemExit(1)


@renewals_group.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the job scheduler in this process (one per deployment; web workers run none)."""
    from renewal_reminder.scheduler import create_scheduler

    scheduler = create_scheduler(current_app._get_current_object(), blocking=True)
    click.echo("Scheduler running; Ctrl+C to stop.")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@db_group.command("upgrade")
@with_appcontext
def db_upgrade_command():
    """Create or upgrade the product's tables (rr_*) to the newest schema."""
    applied = schema.upgrade(current_session().get_bind())
    click.echo(f"Applied {', '.join(applied)}." if applied else "The tables are up to date.")


@db_group.command("current")
@with_appcontext
def db_current_command():
    """Show the schema revision of the product's tables, and the newest one."""
    with current_session().get_bind().connect() as connection:
        current = schema.current_revision(connection)
    click.echo(f"current: {current or 'none (no tables yet)'}; newest: {schema.head_revision()}")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@with_appcontext
def db_revision_command(message: str):
    """For developers: write a migration for what changed in the product's models."""
    from alembic import command

    config = schema.alembic_config()
    with current_session().get_bind().begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


for _group in (users, domains, demo_group, reminders, db_group):
    renewals_group.add_command(_group)


def standalone_commands() -> list[click.Command]:
    """The standalone app's documented top-level commands (also under ``flask renewals``)."""
    return [users, domains, demo_group, reminders, scheduler_command]
