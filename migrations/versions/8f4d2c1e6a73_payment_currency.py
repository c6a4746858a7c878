"""payment currency, and an index of open invoices for the home page

A payment is in its invoice's currency; copied onto the payment, revenue per currency is
read from an index on payments alone instead of joining every payment to its invoice.
Receivables by age and the top clients read the open invoices from a partial index alone.

Revision ID: 8f4d2c1e6a73
Revises: 3c0e5b7a9f21
Create Date: 2026-11-27 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8f4d2c1e6a73'
down_revision = '3c0e5b7a9f21'
branch_labels = None
depends_on = None

OPEN_INVOICE = "status IN ('sent', 'partial')"


def upgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
    op.execute("UPDATE payment SET currency = (SELECT invoice.currency FROM invoice WHERE invoice.id = payment.invoice_id)")
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.alter_column('currency', existing_type=sa.String(length=3), nullable=False)
        batch_op.create_index('ix_payment_currency_date', ['currency', 'date'], unique=False,
                              postgresql_include=['amount'])
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_open_currency_client', ['currency', 'client_id'], unique=False,
                              postgresql_where=sa.text(OPEN_INVOICE), sqlite_where=sa.text(OPEN_INVOICE),
                              postgresql_include=['due_date', 'balance'])


def downgrade():
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_open_currency_client')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_currency_date', postgresql_include=['amount'])
        batch_op.drop_column('currency')
