"""The rules of recurring invoices: schedules, their periods, and the invoices they make.

`generate_due` is what the CLI and the periodic task run. Each period is one transaction:
the schedule's row is locked, the period's `RecurringRun` key is inserted, the invoice is
made (and finalized when the schedule sends automatically), and all of it commits together.
A second worker waits on the lock and then finds the period done; should anything reach the
same period another way, the unique key refuses the second invoice. Everything else here
changes the session and leaves the commit to its caller.
"""
from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.billing import services as billing
from app.billing.models import Invoice
from app.clients.models import Client
from app.errors import Refusal
from app.extensions import db
from app.recurring.models import MONTHS_PER_PERIOD, RecurringInvoice, RecurringLine, RecurringRun
from app.recurring.signals import invoice_generated

log = logging.getLogger(__name__)

# A template line keeps None where it gives no value, so the product's current one is used.
TEMPLATE_FIELDS = ("product_id", "description", "quantity", "unit_price", "discount", "tax_rate", "vat_nature",
                   "vat_nature_reference")
SCHEDULE_FIELDS = ("frequency", "start_date", "end_date", "auto_send", "notes")


class RecurringErrors(billing.BillingErrors):
    """The fields a schedule's input got wrong (lines named "lines.0.unit_price")."""


# ---------------------------------------------------------------- periods


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan → 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_after(schedule: RecurringInvoice, period: dt.date) -> dt.date:
    """The period following `period`, counted from the start date, so that a schedule
    starting on the 31st comes back to the 31st after a short month."""
    step = MONTHS_PER_PERIOD[schedule.frequency]
    elapsed = (period.year - schedule.start_date.year) * 12 + period.month - schedule.start_date.month
    return add_months(schedule.start_date, (elapsed // step + 1) * step)


def is_due(schedule: RecurringInvoice, today: dt.date) -> bool:
    return schedule.active and not schedule.ended and schedule.next_date <= today


# ---------------------------------------------------------------- schedules


def clean_schedule(values: Mapping[str, object]) -> dict[str, object]:
    """Errors of a schedule's own fields (the lines are checked by `clean_template_lines`)."""
    errors: dict[str, object] = {}
    if values.get("frequency") not in MONTHS_PER_PERIOD:
        errors["frequency"] = _l("Choose monthly, quarterly or yearly.")
    start, end = values.get("start_date"), values.get("end_date")
    if not isinstance(start, dt.date):
        errors["start_date"] = _l("Not a valid date: use YYYY-MM-DD.")
    elif isinstance(end, dt.date) and end < start:
        errors["end_date"] = _l("The end date cannot be before the start date.")
    return errors


def template_line_input(line: RecurringLine | Mapping[str, object]) -> dict[str, object]:
    """A template line as billing's line input: an empty value lets the product fill it."""
    get = line.get if isinstance(line, Mapping) else lambda name: getattr(line, name)
    return {name: "" if get(name) is None else get(name) for name in TEMPLATE_FIELDS}


def clean_template_lines(lines: Iterable[Mapping[str, object]]) -> tuple[list[RecurringLine], dict[str, object]]:
    """Check each line with billing's own rule, natures included (so a template that saves
    makes valid invoices), and build the template rows, keeping empty what the product will fill."""
    rows, errors = [], {}
    for index, data in enumerate(lines):
        values, line_errors = billing.clean_line(template_line_input(data), prefix=f"lines.{index}.")
        errors.update(line_errors)
        given = {name: data.get(name) for name in TEMPLATE_FIELDS if data.get(name) not in (None, "")}
        rows.append(RecurringLine(
            position=index,
            product_id=values.get("product_id"),
            description=str(given.get("description", "")).strip(),
            quantity=values.get("quantity", Decimal(1)),
            unit_price=values.get("unit_price") if "unit_price" in given else None,
            discount=values.get("discount", Decimal(0)),
            tax_rate=values.get("tax_rate") if "tax_rate" in given else None,
            vat_nature=values.get("vat_nature", "") if "vat_nature" in given else "",
            vat_nature_reference=values.get("vat_nature_reference", "") if "vat_nature_reference" in given else "",
        ))
    if not rows and not errors:
        errors["lines"] = _l("Add at least one line.")
    return rows, errors


def set_template_lines(schedule: RecurringInvoice, lines: Iterable[Mapping[str, object]]) -> None:
    rows, errors = clean_template_lines(lines)
    if errors:
        raise RecurringErrors(errors)
    schedule.lines = rows


def create_schedule(client: Client, data: Mapping[str, object]) -> RecurringInvoice:
    if client.archived:
        raise billing.BillingError(_l("This client is archived: restore it before billing it."), "client_id")
    values = {"frequency": "monthly", "end_date": None, "auto_send": False, "notes": "", **data}
    errors = clean_schedule(values)
    rows, line_errors = clean_template_lines(values.get("lines") or [])
    errors.update(line_errors)
    if errors:
        raise RecurringErrors(errors)
    schedule = RecurringInvoice(client=client, client_id=client.id, active=True, lines=rows,
                                next_date=values["start_date"],
                                **{name: values[name] for name in SCHEDULE_FIELDS})
    db.session.add(schedule)
    db.session.flush()
    return schedule


def update_schedule(schedule: RecurringInvoice, data: Mapping[str, object]) -> RecurringInvoice:
    """Change what `data` names. The start date moves only before the first invoice (the
    periods already invoiced are counted from it)."""
    values = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS} | {
        name: data[name] for name in SCHEDULE_FIELDS if name in data}
    errors = clean_schedule(values)
    invoiced = db.session.scalar(select(RecurringRun.id).where(RecurringRun.schedule_id == schedule.id).limit(1))
    if values["start_date"] != schedule.start_date and invoiced is not None and "start_date" not in errors:
        errors["start_date"] = _l("Periods were already invoiced: the start date can no longer change.")
    if "lines" in data:
        rows, line_errors = clean_template_lines(data["lines"] or [])
        errors.update(line_errors)
    if errors:
        raise RecurringErrors(errors)
    if invoiced is None:
        schedule.next_date = values["start_date"]
    for name in SCHEDULE_FIELDS:
        setattr(schedule, name, values[name])
    if "lines" in data:
        schedule.lines = rows
    return schedule


def pause(schedule: RecurringInvoice) -> None:
    if schedule.ended:
        raise billing.BillingError(_l("This schedule has ended."), "active")
    schedule.active = False


def resume(schedule: RecurringInvoice, today: dt.date | None = None) -> None:
    """Start again from the next period on or after today: the months of a pause are not billed."""
    if schedule.ended:
        raise billing.BillingError(_l("This schedule has ended."), "active")
    today = today or dt.date.today()
    while schedule.next_date < today:
        schedule.next_date = period_after(schedule, schedule.next_date)
    schedule.active = True


def end(schedule: RecurringInvoice) -> None:
    """No invoice after the periods already made: the end date becomes the day before the
    next period (the start date, and no period at all, if nothing was invoiced yet)."""
    last_day = max(schedule.start_date, schedule.next_date - dt.timedelta(days=1))
    schedule.end_date = min(schedule.end_date or last_day, last_day)
    if schedule.next_date <= schedule.end_date:
        schedule.next_date = schedule.end_date + dt.timedelta(days=1)
    schedule.active = False


# ---------------------------------------------------------------- generating invoices


@dataclass
class Generated:
    """What a run of `generate_due` did: invoices made, and schedules that failed (and why)."""

    invoice_ids: list[int] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)


def generate_due(today: dt.date | None = None) -> Generated:
    """Make every invoice due on `today` or earlier, one per period, each period committed on
    its own (so run it on its own: the CLI, the periodic job). Periods missed while nothing
    ran are caught up, one invoice each."""
    today = today or dt.date.today()
    result = Generated()
    schedule_ids = db.session.scalars(
        select(RecurringInvoice.id)
        .where(RecurringInvoice.active.is_(True), RecurringInvoice.next_date <= today,
               or_(RecurringInvoice.end_date.is_(None), RecurringInvoice.next_date <= RecurringInvoice.end_date))
        .order_by(RecurringInvoice.id)
    ).all()
    db.session.commit()
    for schedule_id in schedule_ids:
        while True:
            try:
                outcome = _invoice_next_period(schedule_id, today)
                db.session.commit()
            except Refusal as refusal:
                db.session.rollback()
                log.warning("recurring invoice %s not generated: %s", schedule_id, refusal.message)
                result.failures.append((schedule_id, str(refusal.message)))
                break
            if outcome is None:
                break
            if isinstance(outcome, Invoice):
                result.invoice_ids.append(outcome.id)
    return result


def _locked(schedule_id: int) -> RecurringInvoice | None:
    """The schedule with its row locked until the transaction ends: a second worker waits
    here, then reads the next_date the first one moved."""
    return db.session.execute(
        select(RecurringInvoice).where(RecurringInvoice.id == schedule_id)
        .with_for_update(of=RecurringInvoice).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _invoice_next_period(schedule_id: int, today: dt.date) -> Invoice | bool | None:
    """Invoice the schedule's next period if it is due: the Invoice, True when that period
    turned out to be invoiced already, None when nothing is due."""
    schedule = _locked(schedule_id)
    if schedule is None or not is_due(schedule, today):
        return None
    period = schedule.next_date
    run = RecurringRun(schedule_id=schedule.id, period_start=period)
    db.session.add(run)
    try:
        db.session.flush()
    except IntegrityError:
        # Invoiced already (a worker got here without the lock, or next_date was moved back
        # by hand): never a second invoice; step past the period in a fresh transaction.
        # (No savepoint: SQLite's driver would commit the outer transaction with it.)
        db.session.rollback()
        schedule = _locked(schedule_id)
        if schedule is not None and schedule.next_date == period:
            schedule.next_date = period_after(schedule, period)
        return True
    # Issued on the day it is made: a caught-up period still gets today's date, so numbers
    # keep following dates (numbering is progressive by issue date).
    invoice = billing.new_invoice(schedule.client, issue_date=today, notes=schedule.notes,
                                  lines=[template_line_input(line) for line in schedule.lines])
    if schedule.auto_send:
        billing.finalize_invoice(invoice)
    run.invoice_id = invoice.id
    schedule.last_invoice_id = invoice.id
    schedule.next_date = period_after(schedule, period)
    db.session.flush()
    invoice_generated.send(invoice, auto_send=schedule.auto_send)
    return invoice
