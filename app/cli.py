"""`flask --app app clientela …`: the operator's commands."""
from __future__ import annotations

import os
import secrets

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

clientela = AppGroup("clientela", help="Clientela commands.")


def _admin_password() -> tuple[str, bool]:
    """ADMIN_PASSWORD, or for the embedded default one generated once and kept in instance/."""
    configured = current_app.config.get("ADMIN_PASSWORD")
    if configured:
        return configured, False
    path = os.path.join(current_app.instance_path, "admin_password")
    if os.path.exists(path):
        with open(path) as handle:
            return handle.read().strip(), True
    password = secrets.token_urlsafe(12)
    os.makedirs(current_app.instance_path, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write(password)
    return password, True


@clientela.command("init")
@click.option("--demo-if-empty", is_flag=True, help="Add demo data when there are no clients yet.")
def init_command(demo_if_empty: bool) -> None:
    """Create the roles and the admin user (ADMIN_USERNAME / ADMIN_PASSWORD / ADMIN_EMAIL)."""
    from app.clients.models import Client
    from app.company.services import get_company
    from app.security.setup import ensure_admin, ensure_roles

    ensure_roles()
    get_company()
    username = current_app.config["ADMIN_USERNAME"]
    password, generated = _admin_password()
    created = ensure_admin(username, password, current_app.config["ADMIN_EMAIL"])
    db.session.commit()
    if demo_if_empty and db.session.query(Client.id).first() is None:
        from app.demo import create_demo_data

        create_demo_data(clients=25, invoices_per_client=6)
    if created:  # `serve` (make run) shows the login again each time, with the URL
        click.echo(f"Admin user created: {username} / {password}")
        if generated:
            click.echo(f"  (password generated once, kept in {current_app.instance_path}/admin_password)")


@clientela.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(min=0, max=65535))
def serve_command(host: str, port: int) -> None:
    """Serve the app (the embedded default's server, `make run`). Without PUBLIC_BASE_URL the
    address becomes the base of every link, for later commands too; the URL and the admin login
    are printed once /healthz answers. Use gunicorn in production (docs/operations.md)."""
    import threading

    from app.ops.serve import serve

    app = current_app._get_current_object()
    try:
        serve(app, host, port, on_ready=_print_ready, stop=threading.Event())
    except KeyboardInterrupt:
        click.echo("Stopped.")


def _print_ready(url: str) -> None:
    username = current_app.config["ADMIN_USERNAME"]
    click.echo("")
    click.secho(f"Clientela is ready at {current_app.config['PUBLIC_BASE_URL']}/", fg="green", bold=True)
    if current_app.config.get("ADMIN_PASSWORD"):
        click.echo(f"  Admin login: {username} (the password in ADMIN_PASSWORD)")
    else:
        password, _generated = _admin_password()
        click.echo(f"  Admin login: {username} / {password}")
        click.echo(f"  (password generated once, kept in {current_app.instance_path}/admin_password)")
    if current_app.config["PUBLIC_BASE_URL"] != url:
        click.echo(f"  Serving on {url} (links use PUBLIC_BASE_URL)")
    click.echo("")


@clientela.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option("--name", default=None, help="Worker name (default: RQ's hostname.pid).")
def worker_command(burst: bool, name: str | None) -> None:
    """Run an RQ worker with the scheduler (retries, delayed jobs) on REDIS_URL's queue, and the
    ticker that enqueues the periodic tasks (reminders, outbox retries, quote expiry, Stripe)."""
    import threading

    from app.periodic import enqueue_due_tasks, start_ticker
    from app.worker import build_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline and no worker is needed.")
    app = current_app._get_current_object()
    worker = build_worker(app, name=name)
    click.echo(f"Worker {worker.name} listening on queue '{worker.queue_names()[0]}'")
    stop = threading.Event()
    if burst:
        enqueue_due_tasks()
    else:
        start_ticker(app, stop)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()


@clientela.command("demo")
@click.option("--clients", default=25, show_default=True, type=click.IntRange(min=1), help="How many clients to add.")
@click.option("--invoices-per-client", default=6, show_default=True, type=click.IntRange(min=0),
              help="Invoices per client (quotes: a third as many).")
@click.option("--seed", type=int, default=None, help="The same seed gives the same data (dates follow today).")
@click.option("--einvoice/--no-einvoice", default=True, show_default=True,
              help="Store the FatturaPA file of each finalized invoice (a few ms each).")
def demo_command(clients: int, invoices_per_client: int, seed: int | None, einvoice: bool) -> None:
    """Add realistic Italian demo data: clients, contacts, invoices, quotes, payments, timeline."""
    from app.demo import DemoSummary, create_demo_data

    def cost(summary: DemoSummary | None) -> str:
        if summary is None or not summary.einvoices:
            return ""
        return f"{summary.einvoices} e-invoices, {summary.einvoice_seconds * 1000 / summary.einvoices:.1f} ms each"

    with click.progressbar(length=clients, label="Creating demo clients", show_pos=True,
                           item_show_func=cost) as bar:
        summary = create_demo_data(clients=clients, invoices_per_client=invoices_per_client, seed=seed,
                                   progress=lambda size, so_far: bar.update(size, so_far), einvoices=einvoice)
    click.echo(
        f"Added {summary.clients} clients, {summary.contacts} contacts, {summary.invoices} invoices, "
        f"{summary.quotes} quotes, {summary.payments} payments and {summary.activities} timeline entries."
    )
    if summary.einvoices:
        click.echo(f"Stored {summary.einvoices} e-invoice files in {summary.einvoice_seconds:.1f} s "
                   f"({summary.einvoice_seconds * 1000 / summary.einvoices:.1f} ms each).")


@clientela.command("rebuild-totals")
def rebuild_totals_command() -> None:
    """Recompute every rollup from the documents: each client's (invoiced, paid, balance due,
    counts by status, balance per currency) and the home dashboard's (receivables per due
    date, revenue per month, quotes per status). After importing rows with SQL, or to repair
    what `check-totals` reports."""
    from app.billing.accounts import rebuild_accounts
    from app.billing.rollups import rebuild_home_rollups

    count = rebuild_accounts()
    rows = rebuild_home_rollups()
    db.session.commit()
    click.echo(f"Rebuilt the totals of {count} clients and {rows} home dashboard rows.")


@clientela.command("check-totals")
def check_totals_command() -> None:
    """Compare every rollup with a slow read of the documents; exits 1 naming each difference
    (`rebuild-totals` repairs them)."""
    from app.billing.accounts import account_differences
    from app.billing.rollups import home_rollup_differences

    differences = account_differences() + home_rollup_differences()
    db.session.rollback()
    for line in differences:
        click.echo(line)
    if differences:
        raise SystemExit(1)
    click.echo("Every rollup agrees with the documents.")


@clientela.command("mark-overdue")
def mark_overdue_command() -> None:
    """Mark open invoices past their due date as overdue in the client rollups, and fold the
    home dashboard's oldest receivable days (the workers do it hourly; the figures are right
    either way, this only keeps the client summary and the home page cheap)."""
    from app.billing.periodic import mark_overdue_job

    count = mark_overdue_job()
    click.echo(f"Marked {count} invoice(s) overdue.")


@clientela.command("send-reminders")
def send_reminders_command() -> None:
    """Queue today's overdue reminders (REMINDER_DAYS steps, each once per invoice); run daily."""
    from app.mail.reminders import send_reminders

    click.echo(f"Queued {send_reminders()} reminder(s).")


@clientela.command("generate-recurring")
@click.option("--date", "today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Make what is due on this day (YYYY-MM-DD; default today).")
def generate_recurring_command(today) -> None:
    """Make every recurring invoice due today or earlier, one per period (safe to run often:
    a period already invoiced is never invoiced again; missed periods are caught up)."""
    from app.recurring.services import generate_due

    result = generate_due(today.date() if today else None)
    click.echo(f"Made {len(result.invoice_ids)} recurring invoice(s).")
    for schedule_id, message in result.failures:
        click.echo(f"Recurring invoice {schedule_id} not made: {message}", err=True)


@clientela.command("retry-outbox")
def retry_outbox_command() -> None:
    """Queue again failed emails, and those whose job or worker was lost; safe to run often."""
    from app.mail.outbox import requeue_stale_emails

    count = requeue_stale_emails()
    db.session.commit()
    click.echo(f"Queued {count} email(s) again.")


@clientela.command("stripe-reconcile")
@click.option("--after", default=15, show_default=True, type=click.IntRange(min=0),
              help="Re-read Checkout Sessions open for at least this many minutes.")
def stripe_reconcile_command(after: int) -> None:
    """Record Stripe payments whose webhook never arrived (run it from the scheduler)."""
    import datetime as dt

    from app.payments.reconcile import reconcile_open_sessions
    from app.payments.services import stripe_configured

    if not stripe_configured():
        raise click.ClickException("Stripe is not configured (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET).")
    summary = reconcile_open_sessions(dt.timedelta(minutes=after))
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(summary.outcomes.items())) or "none"
    click.echo(f"Checked {summary.checked} open Checkout Sessions: {outcomes}; {summary.errors} unreachable.")


@clientela.command("copy-database")
@click.argument("target_url")
def copy_database_command(target_url: str) -> None:
    """Copy every row from DATABASE_URL into the empty database TARGET_URL (migrated to head
    first), e.g. from the embedded SQLite to PostgreSQL; refuses a target that holds data."""
    from sqlalchemy import create_engine

    from app.ops import copy
    from config import sqlalchemy_url

    target = create_engine(sqlalchemy_url(target_url))
    try:
        copy.refuse_unless_empty(target)
        click.echo("Migrating the target to the latest schema…")
        copy.migrate_to_head(target_url)
        copy.refuse_unless_same_revision(db.engine, target)
        with db.engine.connect() as connection:
            total = sum(copy.count_rows(connection).values())
        with click.progressbar(length=total, label="Copying rows", show_pos=True) as bar:
            report = copy.copy_rows(db.engine, target, progress=bar.update)
    except copy.CopyRefused as refused:
        raise click.ClickException(str(refused)) from None
    finally:
        target.dispose()
    width = max(len(line.table) for line in report)
    for line in report:
        click.echo(f"  {line.table:<{width}}  {line.target:>9}")
    click.echo(f"Copied {sum(line.target for line in report)} rows in {len(report)} tables; "
               "the counts match the source. Point DATABASE_URL at the target now.")


@clientela.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
def backup_command(file: str) -> None:
    """Back up the database into the new FILE while the app runs: SQLite with its online
    backup API; PostgreSQL with pg_dump (the command is printed, and run when pg_dump is on
    PATH). Restoring: docs/operations.md."""
    import shlex

    from app.ops import backup

    url = db.engine.url
    try:
        if url.get_backend_name() == "sqlite":
            pages = backup.backup_sqlite(url, file)
            click.echo(f"Backed up {url.database} to {file} ({pages} pages).")
            click.echo(f"To restore: stop Clientela, then cp {shlex.quote(file)} {shlex.quote(url.database)}")
        elif url.get_backend_name() == "postgresql":
            command, env = backup.pg_dump_command(url, file)
            password_note = " (with PGPASSWORD set to the database password)" if env else ""
            click.echo(f"pg_dump command{password_note}:\n  {shlex.join(command)}")
            if not backup.pg_dump_available():
                raise click.ClickException("pg_dump is not on PATH: install postgresql-client (the server's "
                                           "major version) and run the command above.")
            backup.run_pg_dump(command, env, file)
            click.echo(f"Backed up to {file}. To restore into an empty database:\n  "
                       f"pg_restore --no-owner --no-privileges --dbname=<database URL> {shlex.quote(file)}")
        else:
            raise click.ClickException(f"No backup for {url.get_backend_name()}: use its own tools.")
    except backup.BackupRefused as refused:
        raise click.ClickException(str(refused)) from None


@clientela.command("portal-link")
@click.argument("email")
@click.option("--hours", default=24, show_default=True, help="How long the link stays valid.")
def portal_link_command(email: str, hours: int) -> None:
    """Print a single-use portal sign-in link for the contact with EMAIL (for support)."""
    import datetime as dt

    from sqlalchemy import func, select

    from app.clients.models import Client, Contact
    from app.portal.tokens import issue_sign_in_link

    contacts = db.session.scalars(
        select(Contact).join(Client)
        .where(func.lower(Contact.email) == email.strip().lower(), Contact.portal_enabled.is_(True),
               Client.archived.is_(False))
        .order_by(Contact.id)
    ).all()
    if not contacts:
        raise click.ClickException(f"No contact with portal access has the address {email}.")
    for contact in contacts:
        url = issue_sign_in_link(contact, purpose="support", ttl=dt.timedelta(hours=hours), single_use=True)
        click.echo(f"{contact.client.name}: {url}")
    db.session.commit()


@clientela.command("import-clients")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and count, import nothing.")
def import_clients_command(file: str, dry_run: bool) -> None:
    """Import clients with their contacts from a CSV or XLSX FILE (columns named by the client
    fields, plus contact_name and contact_email): all rows, or none if any row is wrong."""
    from app.transfer.imports import import_file

    with open(file, "rb") as handle:
        report = import_file(handle.read(), dry_run=dry_run)
    if not report.ok:
        db.session.rollback()
        for error in report.errors:
            click.echo(f"line {error['row']}, {error['field']}: {error['message']}", err=True)
        raise click.ClickException(f"{len(report.errors)} errors: nothing imported.")
    db.session.commit()
    verb = "would be" if dry_run else "were"
    click.echo(f"{report.created} clients {verb} created, {report.updated} {verb} updated.")
