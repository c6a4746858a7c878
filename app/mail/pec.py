"""The PEC channel: each new FatturaPA file is mailed to SdI from the company's PEC mailbox.

Einvoice sends `einvoice_file_issued` inside the transaction that stored the file; this
subscriber adds an outbox row in that same transaction, so the email exists exactly when the
file does, is sent by the ordinary outbox job (claimed, retried, never twice: the idempotency
key is the file name) and, once sent, marks the file `sent`. The mailbox is configured in
the environment (PEC_*); without PEC_SMTP_SERVER the email leaves through the MAIL_* server.
"""
from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import select

from app.company.services import get_company
from app.einvoice.models import EInvoiceFile
from app.einvoice.services import mark_sent
from app.einvoice.signals import einvoice_file_issued
from app.extensions import db
from app.jobs import enqueue
from app.mail.models import OutboxAttachment, OutboxEmail, OutboxStatus

PEC_KIND = "sdi_pec"  # an outbox kind of its own: no template, never a client's override
PEC_KEY_PREFIX = "sdi-pec:"


def is_pec(email: OutboxEmail) -> bool:
    return email.kind == PEC_KIND


def queue_file(file: EInvoiceFile, **_kwargs) -> OutboxEmail:
    """The outbox row that carries `file` to SdI (the existing one if already queued)."""
    from app.mail.outbox import deliver_email  # outbox imports this module for delivery

    key = PEC_KEY_PREFIX + file.file_name
    existing = db.session.scalar(select(OutboxEmail).filter_by(idempotency_key=key))
    if existing is not None:
        return existing
    config = current_app.config
    company = get_company()
    email = OutboxEmail(
        idempotency_key=key, kind=PEC_KIND, language="it",
        sender=config.get("PEC_ADDRESS") or config.get("MAIL_DEFAULT_SENDER") or "",
        to_email=company.sdi_pec_address, subject=f"Invio file {file.file_name}",
        body_text=f"Fattura elettronica {file.document_number}: file {file.file_name} in allegato.",
        body_html="", status=OutboxStatus.QUEUED.value,
    )
    email.attachments.append(OutboxAttachment(filename=file.file_name, mime_type="application/xml",
                                              content=file.content))
    db.session.add(email)
    db.session.flush()
    enqueue(deliver_email, email.id, job_id=f"email-{email.id}")
    return email


def smtp_configured() -> bool:
    return bool(current_app.config.get("PEC_SMTP_SERVER") or current_app.config.get("MAIL_SERVER"))


def smtp_config() -> dict:
    """Flask-Mail settings for the PEC mailbox: the PEC_* server when set, else MAIL_*."""
    config = dict(current_app.config)
    if config.get("PEC_SMTP_SERVER"):
        config.update(
            MAIL_SERVER=config["PEC_SMTP_SERVER"], MAIL_PORT=config.get("PEC_SMTP_PORT") or 465,
            MAIL_USE_TLS=bool(config.get("PEC_USE_TLS")), MAIL_USE_SSL=bool(config.get("PEC_USE_SSL")),
            MAIL_USERNAME=config.get("PEC_USERNAME") or None, MAIL_PASSWORD=config.get("PEC_PASSWORD") or None,
        )
    return config


def after_sent(email: OutboxEmail) -> None:
    """In the transaction that records the email as sent: the file is now with SdI."""
    mark_sent(email.idempotency_key.removeprefix(PEC_KEY_PREFIX))


def init_app(app: Flask) -> None:
    einvoice_file_issued.connect(queue_file, weak=False)
