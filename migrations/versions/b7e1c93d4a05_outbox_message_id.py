"""outbox: a Message-ID per email, written before it is sent

Every attempt at an email sends the same Message-ID header, so a resend after a crash
between the SMTP server's acceptance and the commit marking the row sent is recognisable
as the same message. Rows already in the outbox get one at their next attempt.

Revision ID: b7e1c93d4a05
Revises: ece1ceed497a
Create Date: 2026-12-01 23:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1c93d4a05'
down_revision = 'ece1ceed497a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_column('message_id')
