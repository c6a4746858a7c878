"""Clientela: the application factory, and the one place where everything is wired."""
from __future__ import annotations

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

    from app import admin_layout
    from app.security import guards, headers

    guards.init_app(app)  # FAB's action and download routes answer like every other admin page
    admin_layout.init_app(app)  # the admin navbar rendered once per distinct menu, language and user
    headers.init_app(app)  # nosniff, no framing by other sites, same-origin referrers

    _register_blueprints(app)
    _register_cli(app)
    if app.config.get("PROXY_FIX_HOPS"):
        # Behind a proxy: client IPs (rate limits) and https come from its X-Forwarded-* headers.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def _load_models() -> None:
    """Import every model module, so metadata (and migrations) see every table."""
    import app.activity.models  # noqa: F401
    import app.billing.accounts  # noqa: F401  (the client rollups and their flush listener)
    import app.billing.models  # noqa: F401
    import app.clients.models  # noqa: F401
    import app.company.models  # noqa: F401
    import app.mail.models  # noqa: F401
    import app.payments.models  # noqa: F401
    import app.portal.models  # noqa: F401
    import app.tickets.models  # noqa: F401


def _index_view():
    from app.dashboard.views import DashboardIndexView

    return DashboardIndexView


def _register_views(appbuilder: AppBuilder) -> None:
    """Every admin view and REST API, in menu order."""
    import app.pdf.service  # noqa: F401  (renders each finalized document's PDF in a job)
    from app.billing import api as billing_api
    from app.billing import views as billing_views
    from app.clients import api as clients_api
    from app.clients import views as clients_views
    from app.company import views as company_views
    from app.dashboard import client as client_dashboard
    from app.mail import api as mail_api
    from app.mail import views as mail_views
    from app.pdf import api as pdf_api
    from app.payments import admin as payments_admin
    from app.tickets import api as tickets_api
    from app.tickets import views as tickets_views
    from app.transfer import api as transfer_api
    from app.transfer import views as transfer_views

    clients_views.register(appbuilder)
    billing_views.register(appbuilder)
    company_views.register(appbuilder)
    client_dashboard.register(appbuilder)
    mail_views.register(appbuilder)
    payments_admin.register(appbuilder)
    tickets_views.register(appbuilder)
    transfer_views.register(appbuilder)
    clients_api.register(appbuilder)
    billing_api.register(appbuilder)
    pdf_api.register(appbuilder)
    transfer_api.register(appbuilder)
    mail_api.register(appbuilder)
    tickets_api.register(appbuilder)


def _register_blueprints(app: Flask) -> None:
    from app.health import bp as health_bp
    from app.portal.views import bp as portal_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(portal_bp)

    from app.tickets.portal import bp as tickets_portal_bp

    app.register_blueprint(tickets_portal_bp)

    from app.payments.views import init_app as init_payments

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
