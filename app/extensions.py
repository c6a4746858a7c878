"""The extension singletons, created once and bound to an app in `create_app()`.

AppBuilder is deliberately *not* here: it keeps per-app state, so the factory builds a new
one for every app (a module-level AppBuilder breaks the second app a test suite creates).
"""
import sqlite3

from flask_appbuilder import Model
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

# Stable constraint names, so migrations can alter and drop them by name.
Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = get_sqla_class()()
migrate = Migrate()
csrf = CSRFProtect()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, _record) -> None:
    """SQLite ignores foreign keys unless asked, per connection: without this a removed contact
    would leave its portal tokens behind instead of taking them along (ON DELETE CASCADE), and
    emails and payments pointing at it instead of forgetting it (ON DELETE SET NULL), as
    PostgreSQL does. Migrations turn it off again (migrations/env.py): SQLite rebuilds a table
    to alter it, and dropping the old one must not cascade."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
