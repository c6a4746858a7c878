"""contact ids never reused on SQLite

A portal session names its contact by id. SQLite hands the highest id again after that row
is removed unless the table is AUTOINCREMENT; PostgreSQL's sequences never reuse one, so
there is nothing to do there.

Revision ID: 3c0e5b7a9f21
Revises: d911fd9b883e
Create Date: 2026-11-27 11:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c0e5b7a9f21'
down_revision = 'd911fd9b883e'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("contact", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("contact", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
