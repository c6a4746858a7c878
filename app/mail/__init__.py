"""Email: templates (global and per client), the outbox, the send job and overdue reminders."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Mail's subscriptions and clock: it sends what billing's "send" asks for, a receipt for
    every payment, and runs its periodic tasks; pages name an email's kind with `|email_kind`.
    Imported here, not at the top, so that importing one mail module does not load them all."""
    from app.billing.signals import payment_recorded, send_requested
    from app.mail import notifications, periodic
    from app.mail.models import KIND_LABELS
    from app.recurring.signals import invoice_generated

    send_requested.connect(notifications.send_document)
    invoice_generated.connect(notifications.email_auto_sent_recurring_invoice)
    payment_recorded.connect(notifications.receipt_for_every_payment)
    periodic.init_app(app)
    app.add_template_filter(lambda kind: KIND_LABELS.get(kind, kind), "email_kind")
