"""Clientela: the application factory, and the one place where everything is wired."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder

from app.extensions import csrf, db, limiter, migrate
from app.extensions import mail as mail_extension  # plain `mail` would be shadowed by the app.mail package

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT_DIR = PACKAGE_DIR.parent


def create_app(config_object: object | str = "config.Config", **overrides) -> Flask:
    """Build a Clientela app; `overrides` win over the config object (tests use them)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT_DIR / "templates"),
        static_folder=str(PACKAGE_DIR / "static"),
        instance_path=str(ROOT_DIR / "instance"),
    )
    app.config.from_object(config_object)
    app.config.update(overrides)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PACKAGE_DIR / "translations"))

    from app.security.roles import FAB_ROLES

    app.config.setdefault("FAB_ROLES", FAB_ROLES)
    # One permission query per request instead of one per menu item (app/security/cache.py).
    app.config.setdefault("FAB_SECURITY_MANAGER_CLASS", "app.security.cache.ClientelaSecurityManager")

    _quiet_fab_permission_sync()
    _load_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT_DIR / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    mail_extension.init_app(app)
    limiter.init_app(app)

    from app import i18n

    i18n.init_app(app)

    with app.app_context():
        appbuilder = AppBuilder(
            indexview=_index_view(),
            base_template="clientela_base.html",
        )
        appbuilder.init_app(app, db.session)
        # FAB exempts its REST APIs from CSRF; they accept JWT only, never the browser cookie.
        _register_views(appbuilder)
        i18n.use_our_locale_selector(app)

    from app.fab import workarounds

    workarounds.init_app(app)  # FAB's English literals through the catalog (workarounds.py, item 5)

    from app.security import headers, limits

    limits.init_app(app)  # NUL text and ids past 32 bits are refused before the database sees them
    headers.init_app(app)  # nosniff, no framing by other sites, same-origin referrers

    _init_capabilities(app)
    _register_cli(app)
    from app import periodic

    periodic.init_app(app)  # without Redis, the web process runs the periodic tasks (docs/jobs.md)
    if app.config.get("PROXY_FIX_HOPS"):
        # Behind a proxy: client IPs (rate limits) and https come from its X-Forwarded-* headers.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def _quiet_fab_permission_sync() -> None:
    """`flask fab create-permissions` warns "Refused to delete permission view, assoc with role
    exists" for every permission that several of our views share (Invoice.can_write, …) and that
    a later view does not list: FAB rightly keeps it, because a role holds it. The same logger
    only warns about such permission bookkeeping (and API keys, which we do not use), so it
    keeps its errors and loses its warnings."""
    logging.getLogger("flask_appbuilder.security.sqla.manager").setLevel(logging.ERROR)


def _load_models() -> None:
    """Import every model module, so metadata (and migrations) see every table."""
    import app.activity.models  # noqa: F401
    import app.billing.accounts  # noqa: F401  (the client rollups and their flush listener)
    import app.billing.models  # noqa: F401
    import app.clients.models  # noqa: F401
    import app.company.models  # noqa: F401
    import app.einvoice.models  # noqa: F401
    import app.mail.models  # noqa: F401
    import app.payments.models  # noqa: F401
    import app.periodic  # noqa: F401  (the embedded default's periodic claims)
    import app.portal.models  # noqa: F401
    import app.products.models  # noqa: F401
    import app.recurring.models  # noqa: F401
    import app.tickets.models  # noqa: F401


def _index_view():
    from app.dashboard.views import DashboardIndexView

    return DashboardIndexView


def _register_views(appbuilder: AppBuilder) -> None:
    """Every admin view and REST API, in menu order."""
    from app.billing import api as billing_api
    from app.billing import views as billing_views
    from app.clients import api as clients_api
    from app.clients import views as clients_views
    from app.company import api as company_api
    from app.company import views as company_views
    from app.dashboard import client as client_dashboard
    from app.dashboard import lists as client_lists
    from app.einvoice import api as einvoice_api
    from app.einvoice import views as einvoice_views
    from app.mail import api as mail_api
    from app.mail import views as mail_views
    from app.payments import admin as payments_admin
    from app.pdf import api as pdf_api
    from app.products import api as products_api
    from app.products import views as products_views
    from app.recurring import api as recurring_api
    from app.recurring import views as recurring_views
    from app.tickets import api as tickets_api
    from app.tickets import views as tickets_views
    from app.transfer import api as transfer_api
    from app.transfer import views as transfer_views

    # The client list shows each client's balance due, which billing (above clients) holds.
    clients_views.register(appbuilder, list_interface=client_lists.ClientListInterface)
    billing_views.register(appbuilder)
    products_views.register(appbuilder)
    recurring_views.register(appbuilder)
    company_views.register(appbuilder)
    client_dashboard.register(appbuilder)
    mail_views.register(appbuilder)
    payments_admin.register(appbuilder)
    einvoice_views.register(appbuilder)
    tickets_views.register(appbuilder)
    transfer_views.register(appbuilder)
    clients_api.register(appbuilder)
    billing_api.register(appbuilder)
    company_api.register(appbuilder)
    einvoice_api.register(appbuilder)
    products_api.register(appbuilder)
    recurring_api.register(appbuilder)
    pdf_api.register(appbuilder)
    transfer_api.register(appbuilder)
    mail_api.register(appbuilder)
    tickets_api.register(appbuilder)


def _init_capabilities(app: Flask) -> None:
    """Each capability's init_app, lowest layer first: blueprints, periodic tasks, and the
    signal receivers through which a lower capability's events reach a higher one
    (docs/development.md, "Layers")."""
    from app import billing, mail, pdf, portal
    from app.einvoice.services import init_app as init_einvoice
    from app.health import bp as health_bp
    from app.mail.pec import init_app as init_pec
    from app.payments.views import init_app as init_payments
    from app.recurring.periodic import init_app as init_recurring
    from app.tickets.portal import bp as tickets_portal_bp

    app.register_blueprint(health_bp)
    billing.init_app(app)
    pdf.init_app(app)
    init_einvoice(app)  # SdI's checks on finalizing, the FatturaPA file on finalized
    init_recurring(app)  # schedules invoiced on the clock
    mail.init_app(app)
    init_pec(app)  # with the PEC channel, each new file is mailed to SdI
    portal.init_app(app)
    app.register_blueprint(tickets_portal_bp)
    init_payments(app)


def _register_cli(app: Flask) -> None:
    from app.cli import clientela

    app.cli.add_command(clientela)


_wsgi_app: Flask | None = None


def __getattr__(name: str) -> Flask:
    """`gunicorn app:app` finds the WSGI app here, built once per process on first use."""
    global _wsgi_app
    if name == "app":
        if _wsgi_app is None:
            _wsgi_app = create_app()
        return _wsgi_app
    raise AttributeError(name)
