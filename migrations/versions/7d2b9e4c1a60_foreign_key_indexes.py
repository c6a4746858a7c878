"""indexes on the foreign keys a delete looks up

Deleting a draft invoice or quote sets activity.invoice_id / quote_id and ticket.invoice_id /
quote_id to NULL, deleting a contact its outbox emails', tickets' and payments' contact_id:
each such column without an index made every delete a scan of the whole referencing table
(at 1,000,000 invoices, 505,000 outbox emails for one removed contact).

Revision ID: 7d2b9e4c1a60
Revises: 5a7e3c1d9b20
"""
from alembic import op

revision = "7d2b9e4c1a60"
down_revision = "5a7e3c1d9b20"
branch_labels = None
depends_on = None

COLUMNS = (
    ("activity", "invoice_id"), ("activity", "quote_id"),
    ("outbox_email", "contact_id"),
    ("ticket", "contact_id"), ("ticket", "invoice_id"), ("ticket", "quote_id"),
    ("ticket_message", "contact_id"), ("ticket_message", "staff_user_id"),
    ("checkout_session", "contact_id"), ("checkout_session", "payment_id"),
    ("stripe_event", "client_id"),
    ("stripe_refund", "adjustment_id"),
)


def upgrade():
    for table, column in COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade():
    for table, column in reversed(COLUMNS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
