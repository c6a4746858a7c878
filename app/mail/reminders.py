"""Overdue reminders: run once a day, send each reminder step at most once per invoice.

Steps are days past the due date (REMINDER_DAYS, default "3,15,30"). An invoice gets the
highest step it has reached and not yet had: if the job did not run for a while, the client
receives one reminder, not a burst of them. A `ReminderSent` row under a unique
(invoice, step) key is written in the same transaction as the email's outbox row, so two
schedulers running at once still send one reminder.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.activity import services as activity
from app.billing.models import OPEN_INVOICE_STATUSES, Invoice
from app.extensions import db
from app.mail.models import ReminderSent
from app.mail.outbox import send_templated
from app.mail.templating import magic_link

log = logging.getLogger(__name__)

DEFAULT_REMINDER_DAYS = "3,15,30"


def reminder_steps() -> list[int]:
    raw = str(current_app.config.get("REMINDER_DAYS") or DEFAULT_REMINDER_DAYS)
    return sorted({int(part) for part in raw.replace(";", ",").split(",") if part.strip().isdigit()})


def due_step(days_overdue: int, steps: list[int]) -> int | None:
    reached = [step for step in steps if step <= days_overdue]
    return max(reached) if reached else None


def send_reminders(today: dt.date | None = None) -> int:
    """Queue the reminders due today; commits once per invoice; returns how many were queued."""
    today = today or dt.date.today()
    steps = reminder_steps()
    if not steps:
        return 0
    last_step = (
        select(ReminderSent.invoice_id, func.max(ReminderSent.step).label("step"))
        .group_by(ReminderSent.invoice_id).subquery()
    )
    candidates = db.session.execute(
        select(Invoice.id, Invoice.due_date, last_step.c.step)
        .outerjoin(last_step, last_step.c.invoice_id == Invoice.id)
        .where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.due_date <= today - dt.timedelta(days=steps[0]))
        .order_by(Invoice.id)
    ).all()
    db.session.rollback()
    queued = 0
    for invoice_id, due_date, sent_step in candidates:
        step = due_step((today - due_date).days, steps)
        if step is None or (sent_step is not None and sent_step >= step):
            continue
        try:
            if _remind(invoice_id, step, today):
                db.session.commit()
                queued += 1
            else:
                db.session.rollback()
        except IntegrityError:  # another scheduler took this step first
            db.session.rollback()
        except Exception:
            log.exception("reminder for invoice %s failed", invoice_id)
            db.session.rollback()
    return queued


def _remind(invoice_id: int, step: int, today: dt.date) -> bool:
    invoice = db.session.get(Invoice, invoice_id)
    contact = invoice.client.primary_contact if invoice else None
    if invoice is None or invoice.status not in OPEN_INVOICE_STATUSES or contact is None or not contact.email:
        return False
    db.session.add(ReminderSent(invoice_id=invoice.id, step=step))
    db.session.flush()  # the unique (invoice, step) key answers here, before anything is sent
    send_templated(
        "reminder", invoice.client, contact.email,
        {"portal_link": magic_link(contact, invoice), "days_overdue": str((today - invoice.due_date).days)},
        contact=contact, document=invoice, attach_document_pdf=True,
        idempotency_key=f"reminder:{invoice.id}:{step}",
    )
    activity.record("reminder_sent", invoice.client_id, invoice_id=invoice.id, number=invoice.number,
                    days=step, actor="")
    return True
