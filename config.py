"""Every setting comes from the environment, with defaults that are safe to embed.

The names of the environment variables are a public contract (see docs/configuration.md).
Without any variable set, Clientela runs self-contained: SQLite file, jobs inline, emails
recorded in the outbox only, Stripe hidden.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """A stable key for the embedded default: generated once, kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url() -> str:
    return sqlalchemy_url(os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'clientela.db'}")


def sqlalchemy_url(url: str) -> str:
    """DATABASE_URL as SQLAlchemy needs it (also for `copy-database TARGET_URL`)."""
    # Heroku-style URLs name the old driver; psycopg 3 is the one installed.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def public_base_url(instance_dir: Path = INSTANCE_DIR) -> str:
    """PUBLIC_BASE_URL, else the address `clientela serve` (make run) last served on, which it
    leaves in instance/public_base_url: links printed by the CLI then point at the running server."""
    url = os.environ.get("PUBLIC_BASE_URL")
    if not url:
        remembered = instance_dir / "public_base_url"
        url = remembered.read_text().strip() if remembered.exists() else "http://127.0.0.1:5000"
    return url.rstrip("/")


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    REDIS_URL = os.environ.get("REDIS_URL", "")
    JOBS_QUEUE = os.environ.get("JOBS_QUEUE", "clientela")  # RQ queue name (docs/jobs.md)
    # Without REDIS_URL, web processes run the periodic tasks themselves (docs/jobs.md).
    EMBEDDED_PERIODIC = _env_bool("EMBEDDED_PERIODIC", True)
    PUBLIC_BASE_URL = public_base_url()

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "fatture@clientela.local")

    # The PEC mailbox of the "pec" e-invoicing channel (docs/einvoice.md): files leave to SdI
    # from PEC_ADDRESS through PEC_SMTP_* (else through MAIL_*), receipts are read over IMAP.
    PEC_ADDRESS = os.environ.get("PEC_ADDRESS", "")
    PEC_SMTP_SERVER = os.environ.get("PEC_SMTP_SERVER", "")
    PEC_SMTP_PORT = int(os.environ.get("PEC_SMTP_PORT", "465"))
    PEC_USE_TLS = _env_bool("PEC_USE_TLS")
    PEC_USE_SSL = _env_bool("PEC_USE_SSL", True)  # PEC providers listen on 465 (SMTPS)
    PEC_USERNAME = os.environ.get("PEC_USERNAME") or None
    PEC_PASSWORD = os.environ.get("PEC_PASSWORD") or None
    PEC_IMAP_SERVER = os.environ.get("PEC_IMAP_SERVER", "")
    PEC_IMAP_PORT = int(os.environ.get("PEC_IMAP_PORT", "993"))
    PEC_IMAP_SSL = _env_bool("PEC_IMAP_SSL", True)  # IMAPS on 993; false: STARTTLS

    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")

    WKHTMLTOPDF_PATH = os.environ.get("WKHTMLTOPDF_PATH", "")

    ADMIN_USERNAME = os.environ.get("ADMIN_USERNAME", "admin")
    ADMIN_PASSWORD = os.environ.get("ADMIN_PASSWORD", "")
    ADMIN_EMAIL = os.environ.get("ADMIN_EMAIL", "admin@clientela.local")

    # Flask-AppBuilder
    APP_NAME = "Clientela"
    FAB_API_SWAGGER_UI = True
    FAB_UPDATE_PERMS = False  # permissions come from `flask fab create-permissions`
    FAB_CREATE_DB = False  # tables come from migrations, never from import time
    FAB_ADD_SECURITY_API = False
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    BABEL_DEFAULT_LOCALE = "it"
    BABEL_DEFAULT_TIMEZONE = "Europe/Rome"
    LANGUAGES = {
        "it": {"flag": "it", "name": "Italiano"},
        "en": {"flag": "gb", "name": "English"},
    }
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")

    # How many reverse proxies in front of gunicorn set X-Forwarded-For/-Proto (0: none trusted).
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "0"))
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = REDIS_URL or "memory://"

    # Documents
    PORTAL_LINK_DAYS = int(os.environ.get("PORTAL_LINK_DAYS", "30"))
    REMINDER_DAYS = os.environ.get("REMINDER_DAYS", "3,15,30")  # days past due, each sent once per invoice
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024


class TestConfig(Config):
    TESTING = True
    EMBEDDED_PERIODIC = False  # tests that want the ticker turn it on
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    MAIL_SUPPRESS_SEND = False
    SERVER_NAME = None
