"""documents record when they were first emailed

A finalized document reads "issued" (Emessa) until it is sent by email, then "sent"
(app.billing.states): sent_at is set when a document is finalized, so it cannot tell.
Existing documents take the time of their first email in the outbox; a credit note, whose
email names its invoice only, the first credit-note email of that invoice after it was issued.

Revision ID: 5a7e3c1d9b20
Revises: 3c5e8f1a7b2d
"""
from alembic import op
import sqlalchemy as sa

revision = "5a7e3c1d9b20"
down_revision = "3c5e8f1a7b2d"
branch_labels = None
depends_on = None

TABLES = ("invoice", "quote", "credit_note")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("emailed_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE invoice SET emailed_at = (SELECT MIN(o.created_at) FROM outbox_email o "
               "WHERE o.invoice_id = invoice.id AND o.kind = 'invoice')")
    op.execute("UPDATE quote SET emailed_at = (SELECT MIN(o.created_at) FROM outbox_email o "
               "WHERE o.quote_id = quote.id AND o.kind = 'quote')")
    op.execute("UPDATE credit_note SET emailed_at = (SELECT MIN(o.created_at) FROM outbox_email o "
               "WHERE o.invoice_id = credit_note.invoice_id AND o.kind = 'credit_note' "
               "AND o.created_at >= credit_note.sent_at)")


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("emailed_at")
