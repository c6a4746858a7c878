"""home dashboard rollups: receivables per currency and due date, revenue per currency and
month, quotes per status, each client's balance per currency; the indexes of recent activity
and of quotes awaiting an answer

Backfilled from the documents in SQL (INSERT … SELECT), so an existing install's home page
is right from the first request after the upgrade; the hourly mark-overdue task folds the
oldest receivable days afterwards (`app.billing.rollups`).

Revision ID: 3c5e8f1a7b2d
Revises: 5ca1e0d1f7a2
Create Date: 2026-12-02 04:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c5e8f1a7b2d'
down_revision = '5ca1e0d1f7a2'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=14, scale=2)
OPEN_INVOICE = "status IN ('sent', 'partial')"


def upgrade():
    op.create_table(
        'client_balance',
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('balance_due', MONEY, server_default='0', nullable=False),
        sa.Column('open_invoices', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_client_balance_client_id_client'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('client_id', 'currency', name=op.f('pk_client_balance')),
    )
    op.create_index('ix_client_balance_currency_balance', 'client_balance',
                    ['currency', sa.text('balance_due DESC'), 'client_id'], unique=False)
    op.create_table(
        'receivable_day',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('balance', MONEY, server_default='0', nullable=False),
        sa.Column('invoices', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('currency', 'due_date', name=op.f('pk_receivable_day')),
    )
    op.create_table(
        'revenue_month',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('amount', MONEY, server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('currency', 'month', name=op.f('pk_revenue_month')),
    )
    op.create_table(
        'quote_tally',
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('quotes', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('status', name=op.f('pk_quote_tally')),
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_created_at')
        batch_op.create_index('ix_activity_created_id', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index('ix_quote_status_valid_until')
        batch_op.create_index('ix_quote_status_valid_until', ['status', 'valid_until', 'id'], unique=False)

    postgresql = op.get_bind().dialect.name == 'postgresql'
    month = "CAST(date_trunc('month', date) AS date)" if postgresql else "substr(date, 1, 7) || '-01'"
    op.execute(f"INSERT INTO client_balance (client_id, currency, balance_due, open_invoices) "
               f"SELECT client_id, currency, SUM(balance), COUNT(*) FROM invoice WHERE {OPEN_INVOICE} "
               f"GROUP BY client_id, currency")
    op.execute(f"INSERT INTO receivable_day (currency, due_date, balance, invoices) "
               f"SELECT currency, due_date, SUM(balance), COUNT(*) FROM invoice WHERE {OPEN_INVOICE} "
               f"GROUP BY currency, due_date")
    op.execute(f"INSERT INTO revenue_month (currency, month, amount) "
               f"SELECT currency, {month}, SUM(amount) FROM payment GROUP BY currency, {month}")
    op.execute("INSERT INTO quote_tally (status, quotes) SELECT status, COUNT(*) FROM quote GROUP BY status")


def downgrade():
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index('ix_quote_status_valid_until')
        batch_op.create_index('ix_quote_status_valid_until', ['status', 'valid_until'], unique=False)
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_created_id')
        batch_op.create_index('ix_activity_created_at', ['created_at'], unique=False)
    op.drop_table('quote_tally')
    op.drop_table('revenue_month')
    op.drop_table('receivable_day')
    op.drop_index('ix_client_balance_currency_balance', table_name='client_balance')
    op.drop_table('client_balance')
