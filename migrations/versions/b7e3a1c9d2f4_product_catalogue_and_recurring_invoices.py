"""product catalogue and recurring invoices

Products fill invoice and quote lines (a nullable product_id on both line tables, SET NULL
if a product row is ever removed). A recurring invoice is a schedule with line templates;
recurring_run's unique (schedule_id, period_start) key is what makes each period's invoice
exactly once, whatever runs the task.

Revision ID: b7e3a1c9d2f4
Revises: ffd495ec03f0
Create Date: 2026-12-01 23:36:01.486080

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e3a1c9d2f4'
down_revision = 'ffd495ec03f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax_rate', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('vat_nature', sa.String(length=6), server_default='', nullable=False),
    sa.Column('archived', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("tax_rate > 0 OR vat_nature <> ''", name=op.f('ck_product_zero_rate_has_a_nature')),
    sa.CheckConstraint('tax_rate >= 0 AND tax_rate <= 100', name=op.f('ck_product_tax_rate_is_a_percentage')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index('ix_product_active_name', ['name'], unique=False, postgresql_where=sa.text('NOT archived'), sqlite_where=sa.text('NOT archived'))

    op.create_table('recurring_invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('auto_send', sa.Boolean(), nullable=False),
    sa.Column('next_date', sa.Date(), nullable=False),
    sa.Column('last_invoice_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("frequency IN ('monthly', 'quarterly', 'yearly')", name=op.f('ck_recurring_invoice_frequency_known')),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_recurring_invoice_ends_after_it_starts')),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_recurring_invoice_client_id_client')),
    sa.ForeignKeyConstraint(['last_invoice_id'], ['invoice.id'], name=op.f('fk_recurring_invoice_last_invoice_id_invoice'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_invoice'))
    )
    with op.batch_alter_table('recurring_invoice', schema=None) as batch_op:
        batch_op.create_index('ix_recurring_invoice_active_next_date', ['next_date'], unique=False, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.create_index(batch_op.f('ix_recurring_invoice_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_invoice_last_invoice_id'), ['last_invoice_id'], unique=False)

    op.create_table('recurring_invoice_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('discount', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('tax_rate', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('vat_nature', sa.String(length=5), server_default='', nullable=False),
    sa.Column('vat_nature_reference', sa.String(length=100), server_default='', nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_recurring_invoice_line_quantity_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_recurring_invoice_line_product_id_product'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['recurring_invoice.id'], name=op.f('fk_recurring_invoice_line_schedule_id_recurring_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_invoice_line'))
    )
    with op.batch_alter_table('recurring_invoice_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_invoice_line_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_invoice_line_schedule_id'), ['schedule_id'], unique=False)

    op.create_table('recurring_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_recurring_run_invoice_id_invoice'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['recurring_invoice.id'], name=op.f('fk_recurring_run_schedule_id_recurring_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_run')),
    sa.UniqueConstraint('schedule_id', 'period_start', name='uq_recurring_run_schedule_period')
    )
    with op.batch_alter_table('recurring_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_run_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_invoice_line_product_id'), ['product_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invoice_line_product_id_product'), 'product', ['product_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('quote_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_quote_line_product_id'), ['product_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_quote_line_product_id_product'), 'product', ['product_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('credit_note_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_credit_note_line_product_id'), ['product_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_credit_note_line_product_id_product'), 'product', ['product_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('credit_note_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_credit_note_line_product_id_product'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_credit_note_line_product_id'))
        batch_op.drop_column('product_id')

    with op.batch_alter_table('quote_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_quote_line_product_id_product'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_quote_line_product_id'))
        batch_op.drop_column('product_id')

    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invoice_line_product_id_product'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invoice_line_product_id'))
        batch_op.drop_column('product_id')

    with op.batch_alter_table('recurring_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_run_invoice_id'))

    op.drop_table('recurring_run')
    with op.batch_alter_table('recurring_invoice_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_line_schedule_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_line_product_id'))

    op.drop_table('recurring_invoice_line')
    with op.batch_alter_table('recurring_invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_last_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_client_id'))
        batch_op.drop_index('ix_recurring_invoice_active_next_date', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))

    op.drop_table('recurring_invoice')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index('ix_product_active_name', postgresql_where=sa.text('NOT archived'), sqlite_where=sa.text('NOT archived'))

    op.drop_table('product')
