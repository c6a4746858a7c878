"""periodic claims for the embedded default

Without Redis the web processes run the periodic tasks themselves; a row per task and period
(its primary key) lets only one of them run each period's task.

Revision ID: ece1ceed497a
Revises: 8f4d2c1e6a73
Create Date: 2026-12-01 23:43:09

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ece1ceed497a'
down_revision = '8f4d2c1e6a73'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('periodic_claim',
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('period', sa.BigInteger(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('task', 'period', name=op.f('pk_periodic_claim'))
    )


def downgrade():
    op.drop_table('periodic_claim')
