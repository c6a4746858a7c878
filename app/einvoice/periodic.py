"""E-invoicing's work on the clock (`app.periodic`): SdI's receipts read from the PEC mailbox."""
from __future__ import annotations

from flask import Flask

from app.einvoice import mailbox
from app.periodic import PeriodicTask, register


def poll_sdi_receipts_job() -> None:
    if mailbox.configured():
        mailbox.poll_receipts()


def init_app(app: Flask) -> None:
    # SdI answers within minutes to days; its receipts wait in the PEC mailbox meanwhile.
    register(app, PeriodicTask("sdi-receipts", 10 * 60, poll_sdi_receipts_job))
