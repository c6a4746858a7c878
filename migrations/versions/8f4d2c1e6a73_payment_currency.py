"""payment currency

A payment is in its invoice's currency; copied onto the payment, revenue per currency is
read from an index on payments alone instead of joining every payment to its invoice.

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


def upgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
    op.execute("UPDATE payment SET currency = (SELECT invoice.currency FROM invoice WHERE invoice.id = payment.invoice_id)")
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.alter_column('currency', existing_type=sa.String(length=3), nullable=False)
        batch_op.create_index('ix_payment_currency_date', ['currency', 'date'], unique=False,
                              postgresql_include=['amount'])


def downgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_currency_date', postgresql_include=['amount'])
        batch_op.drop_column('currency')
