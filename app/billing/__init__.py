"""Invoices, quotes and payments: their rules (totals, numbering, statuses), admin views and API."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Billing's subscriptions and clock. Imported here, not at the top, so that importing one
    billing module (a model, say) does not load them all."""
    from app.billing import accounts, periodic, states
    from app.clients.signals import client_deleting

    # The state machine's answers for every template (admin, client page, portal).
    app.jinja_env.globals.update(balance_due=states.balance_due, document_chip=states.document_chip)

    client_deleting.connect(accounts.refuse_deleting_client_with_documents)
    periodic.init_app(app)
