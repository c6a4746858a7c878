"""list pages flat at 1M invoices: the indexes of each list's default sort and filters

Each admin and API list reads its page in index order (newest first, ties by id, as FAB
sorts) instead of sorting the table: invoices and quotes by issue date (all, or one status),
credit notes by issue date, payments by date (replacing the date-only index), the outbox by
creation (all, or one status), tickets by last activity, clients not archived by name. On
PostgreSQL the client search (`name ILIKE '%rossi%'`) gets a pg_trgm GIN index; SQLite has no
trigram index and scans, as before. Plain CREATE INDEX: run it in a quiet moment on a large
database (it locks writes to the table while it builds; docs/scaling.md).

Revision ID: 5ca1e0d1f7a2
Revises: b7e3a1c9d2f4
Create Date: 2026-12-02 04:30:00
"""
from alembic import op

revision = "5ca1e0d1f7a2"
down_revision = "b7e3a1c9d2f4"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_invoice_issue_date_id", "invoice", ["issue_date", "id"]),
    ("ix_invoice_status_issue_date_id", "invoice", ["status", "issue_date", "id"]),
    ("ix_quote_issue_date_id", "quote", ["issue_date", "id"]),
    ("ix_quote_status_issue_date_id", "quote", ["status", "issue_date", "id"]),
    ("ix_credit_note_issue_date_id", "credit_note", ["issue_date", "id"]),
    ("ix_payment_date_id", "payment", ["date", "id"]),
    ("ix_outbox_email_created_at_id", "outbox_email", ["created_at", "id"]),
    ("ix_outbox_email_status_created_at_id", "outbox_email", ["status", "created_at", "id"]),
    ("ix_ticket_last_activity_id", "ticket", ["last_activity_at", "id"]),
    ("ix_client_archived_name_id", "client", ["archived", "name", "id"]),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.drop_index("ix_payment_date", table_name="payment")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_client_name_trgm ON client USING gin (name gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_client_name_trgm")  # the extension may serve others: kept
    op.create_index("ix_payment_date", "payment", ["date"])
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
